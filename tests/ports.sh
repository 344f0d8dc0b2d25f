# free_port: print a free TCP port on 127.0.0.1 for a daemon a test or benchmark starts.
# Random below the kernel's ephemeral range (see tests/l3_port.h for why), checked by
# binding it. Source this file (POSIX sh or bash).
free_port() {
  python3 -c '
import random, socket, sys
for _ in range(500):
    port = 20000 + random.randrange(12000)
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        sys.exit(0)
sys.exit("free_port: no free port found")
'
}
