# free_port: print a free TCP port on 127.0.0.1 for a daemon a test or benchmark starts.
# Random below the kernel's ephemeral range (see tests/l3_port.h for why), checked by
# binding it. Source this file.
free_port() {
  local port attempt
  for attempt in $(seq 1 500); do
    port=$((20000 + RANDOM % 12000))
    if python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1])))' \
      "$port" 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  echo "free_port: no free port found" >&2
  return 1
}
