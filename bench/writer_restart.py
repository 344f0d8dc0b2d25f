#!/usr/bin/env python3
"""bench/writer_restart.py — how long l3-writer takes to be ready on a big datafile.

Usage: bench/writer_restart.py BIN_DIR DATAFILE [PUSH_COMMANDS]

Measured from exec to the writer's "ready:" log line (the datafile open, scanned or
resumed, and both sockets bound), on a warm page cache:
  - full scan: no checkpoint beside the datafile (it is moved away first, and put back
    by the writer's own save at the end of that run);
  - after a clean stop: from the checkpoint, nothing after it to scan;
  - after kill -9: PUSH_COMMANDS (default 16000, about 15 MB: close to the 16 MiB between
    checkpoints, the worst case) commands pushed by l3-render-gen, the
    writer killed, so the restart scans what came after its last checkpoint.
Prints the three figures and a last line
  writer full_scan_s=N checkpoint_s=N after_kill_s=N scanned_after_kill_mb=N
The datafile grows by PUSH_COMMANDS commands (records of agent "gen", a fresh epoch).
"""
import os, re, signal, socket, subprocess, sys, tempfile, time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    bindir, data = sys.argv[1], os.path.abspath(sys.argv[2])
    push = int(sys.argv[3]) if len(sys.argv) > 3 else 16000
    work = tempfile.mkdtemp(prefix="l3-bench-writer.")
    port, ack = free_port(), free_port()
    cfg = os.path.join(work, "lilalo.cfg")
    with open(cfg, "w") as f:
        f.write('writer\n    backend_datafile = "%s"\n    bind = "tcp://127.0.0.1:%d"\n'
                '    ack_bind = "tcp://127.0.0.1:%d"\n'
                # one file of all history: the worst case of a full scan, and the file
                # bench/render.sh measures (not cut into parts by the default rotation)
                '    rotate_bytes = 0\n' % (data, port, ack))
    log = os.path.join(work, "writer.log")

    def start():
        open(log, "w").close()
        t0 = time.monotonic()
        p = subprocess.Popen([os.path.join(bindir, "l3-writer"), "-c", cfg],
                             stderr=open(log, "a"), stdout=subprocess.DEVNULL)
        while True:
            with open(log) as f:
                text = f.read()
            if "ready:" in text:
                return p, time.monotonic() - t0, text
            if p.poll() is not None:
                sys.exit("bench/writer_restart.py: l3-writer exited: " + text)
            time.sleep(0.002)

    def stop(p, sig):
        p.send_signal(sig)
        p.wait()

    with open(data, "rb") as f:  # the same warm page cache for every start
        while f.read(1 << 24):
            pass
    ckpt = data + ".streams"
    if os.path.exists(ckpt):
        os.rename(ckpt, ckpt + ".away")
    p, full_s, _ = start()
    stop(p, signal.SIGTERM)
    if os.path.exists(ckpt + ".away"):
        os.unlink(ckpt + ".away")
    p, ckpt_s, text = start()
    if "bytes scanned after it" not in text:
        sys.exit("bench/writer_restart.py: the restart did not use the checkpoint:\n" + text)
    gen = subprocess.run([os.path.join(bindir, "l3-render-gen"), "-n", str(push), "--push",
                          "tcp://127.0.0.1:%d" % port, "--acks", "tcp://127.0.0.1:%d" % ack],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if gen.returncode != 0:
        sys.exit("bench/writer_restart.py: l3-render-gen --push failed: " + gen.stderr)
    stop(p, signal.SIGKILL)
    p, kill_s, text = start()
    m = re.search(r"offset \d+, (\d+) bytes scanned after it", text)
    after_mb = int(m.group(1)) / 1e6 if m else -1
    stop(p, signal.SIGTERM)
    size_mb = os.path.getsize(data) / 1e6
    print("writer restart on %.0f MB: full scan %.3f s, from the checkpoint after a clean "
          "stop %.3f s, after kill -9 %.3f s (%.1f MB scanned after the checkpoint)"
          % (size_mb, full_s, ckpt_s, kill_s, after_mb))
    print("writer full_scan_s=%.3f checkpoint_s=%.3f after_kill_s=%.3f scanned_after_kill_mb=%.1f"
          % (full_s, ckpt_s, kill_s, after_mb))
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
