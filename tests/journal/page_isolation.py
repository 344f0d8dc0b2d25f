#!/usr/bin/env python3
"""page_isolation: one bad page costs one page, never the journal; SIGTERM always works.

A real l3-render on a datafile from l3-render-gen, asked through the real l3-cgi, with
L3_RENDER_TEST_FAULTS=1: that turns on the /_fault/ pages, which behave like the worst
bugs page code could have (render_main.c s_make_page): a page that never finishes and
ignores SIGTERM, one that crashes (SIGSEGV), aborts, exits, or outgrows the reply limit.
Checked:
  - while a page hangs, other pages keep being answered within 1 s; the hung page is
    answered 503 at the deadline and its worker is gone (killed and reaped);
  - a crashing page is answered 500 quickly and the next requests are fine;
  - the same bad page asked again is answered from the cache, not retried;
  - after all that, every page works again without anyone restarting anything;
  - SIGTERM ends render within 1 s, leaving no worker behind, in every state: waiting
    for its datafile, indexing a large one, idle, with a page hanging, with requests
    queued behind hung pages.
"""
import inspect
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.environ["L3_BIN_DIR"]
with open(BIN + "/l3-render", "rb") as _f:
    ASAN = b"__asan_init" in _f.read()
failures = []


def check(cond, msg):
    line = inspect.currentframe().f_back.f_lineno
    if not cond:
        failures.append(f"page_isolation.py:{line}: {msg}")
        print(f"page_isolation.py:{line}: FAIL: {msg}", flush=True)
    return cond


def cgi(endpoint, path, query=""):
    """One request through the real l3-cgi: (status, body, seconds)."""
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
           "L3_RENDER": endpoint, "PATH": os.environ.get("PATH", "")}
    t0 = time.monotonic()
    r = subprocess.run([BIN + "/l3-cgi"], env=env, capture_output=True, timeout=20)
    took = time.monotonic() - t0
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    status = 0
    for line in head.split(b"\r\n"):
        if line.startswith(b"Status: "):
            status = int(line.split()[1])
    return status, body, took


def children(pid):
    """Pids whose parent is pid."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


class Render:
    """A real l3-render with the fault pages on; its log is read as it is written."""

    def __init__(self, tmp, datafile, name, extra_cfg="", leak_check=False):
        self.endpoint = f"ipc://{tmp}/{name}.sock"  # render/access.h: ipc only
        self.log_path = f"{tmp}/{name}.log"
        cfg = f"{tmp}/{name}.cfg"
        with open(cfg, "w") as f:
            f.write(f"""render
    datafile = "{datafile}"
    bind = "{self.endpoint}"
    commits = ""
    whatis = 0
    workers = 4
    page_timeout_ms = 1500
{extra_cfg}""")
        self.leak_check = leak_check
        env = dict(os.environ, L3_RENDER_TEST_FAULTS="1")
        if not leak_check and ASAN:
            # LeakSanitizer's scan of the heap at exit is not render's shutdown: the
            # renders whose SIGTERM is timed run without it (the first one keeps it)
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
        self.log = open(self.log_path, "w")
        self.p = subprocess.Popen([BIN + "/l3-render", "-c", cfg], stdout=self.log,
                                  stderr=subprocess.STDOUT, env=env)

    def logtext(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def ready(self, timeout=60):
        return wait_until(lambda: cgi(self.endpoint, "/api/sessions")[0] == 200, timeout)

    def term(self, what):
        """SIGTERM; render and every worker must be gone within 1 s."""
        kids = children(self.p.pid)
        t0 = time.monotonic()
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        took = time.monotonic() - t0
        # with LeakSanitizer's exit scan on, the time is the scan's; what counts there is
        # that render stopped cleanly with nothing leaked
        budget = 3.0 if self.leak_check and ASAN else 1.0
        check(took <= budget, f"SIGTERM {what}: render took {took:.2f} s to stop")
        check(self.p.returncode == 0, f"SIGTERM {what}: render exited {self.p.returncode}")
        gone = wait_until(lambda: not any(alive(k) for k in kids), 1.0)
        check(gone, f"SIGTERM {what}: workers left behind: "
              f"{[k for k in kids if alive(k)]}")
        print(f"page_isolation: SIGTERM {what}: stopped in {took * 1000:.0f} ms, "
              f"{len(kids)} workers gone", flush=True)
        self.log.close()


def normal_pages(ep, ncmds):
    return [("/", ""), ("/journal", ""), ("/journal", "page=1"), ("/api/sessions", ""),
            ("/stats", ""), (f"/cmd/{ncmds // 2}", ""), (f"/cmd/{ncmds - 1}", "full=1"),
            ("/session/1", ""), ("/session/1.txt", ""), ("/api/commands", "limit=5"),
            ("/search", "q=make")]


def main():
    tmp = tempfile.mkdtemp(prefix="l3-isolation-")
    try:
        data = tmp + "/data.xml"
        r = subprocess.run([BIN + "/l3-render-gen", "-n", "400", "--hostile", "-o", data])
        check(r.returncode == 0, "datafile generated")
        rd = Render(tmp, data, "render", leak_check=True)
        check(rd.ready(), "render answers")
        ep = rd.endpoint
        pages = normal_pages(ep, 400)

        # --- a page that never finishes ------------------------------------------------
        hang = {}

        def ask_hang():
            hang["r"] = cgi(ep, "/_fault/hang")

        t = threading.Thread(target=ask_hang)
        t.start()
        # the hanging page is being made once render has a busy worker spinning
        wait_until(lambda: any(cpu_seconds(k) > 0.2 for k in children(rd.p.pid)), 5)
        slowest = 0.0
        for path, query in pages:
            st, body, took = cgi(ep, path, query)
            check(st == 200, f"{path}?{query} while a page hangs: {st}")
            check(took < 1.0, f"{path}?{query} while a page hangs took {took:.2f} s")
            slowest = max(slowest, took)
        t.join()
        st, body, took = hang["r"]
        check(st == 503, f"the hung page answered 503 at its deadline, got {st}")
        check(1.4 <= took < 3.0, f"the hung page was answered after {took:.2f} s")
        check(b"took too long" in body, f"the 503 says why: {body[:100]!r}")
        # its worker is killed: nothing spins once it is answered
        check(wait_until(lambda: not any(cpu_seconds(k) > 1.0 for k in children(rd.p.pid)),
                         1.0), "the hung worker was killed")
        print(f"page_isolation: while a page hung, {len(pages)} other pages answered, "
              f"slowest {slowest * 1000:.0f} ms; the hung page got 503 after {took:.2f} s",
              flush=True)
        # asked again: from the cache at once, no new worker spent on it
        st, body, took = cgi(ep, "/_fault/hang")
        check(st == 503 and took < 0.5, f"the hung page asked again: {st} in {took:.2f} s")
        check("still not done after 1500 ms" in rd.logtext(), "render logged the hung page")

        # --- pages that crash, abort, exit, or outgrow the reply limit -----------------
        # (under ASan a SIGSEGV is caught and turned into exit 1 or SIGABRT: either way
        # the 500 says what happened to the worker)
        for fault, why in [("crash", (b"signal", b"exited")), ("abort", (b"signal", b"exited")),
                           ("exit", (b"exited",)), ("huge", (b"limit",))]:
            st, body, took = cgi(ep, "/_fault/" + fault)
            check(st == 500, f"/_fault/{fault}: 500, got {st}")
            check(took < 1.0 or fault == "huge", f"/_fault/{fault} answered in {took:.2f} s")
            check(b"could not be made" in body and any(w in body for w in why),
                  f"/_fault/{fault}: the 500 says why: {body[:160]!r}")
            for path, query in pages[:4]:
                st, _, took = cgi(ep, path, query)
                check(st == 200 and took < 1.0, f"{path} after /_fault/{fault}: {st} {took:.2f} s")
        log = rd.logtext()
        check("GET /_fault/crash" in log and "failed in worker" in log, "render logged the crash")

        # --- the journal recovered without anyone: every page works --------------------
        for path, query in pages:
            st, body, took = cgi(ep, path, query)
            check(st == 200 and len(body) > 0, f"{path}?{query} after the faults: {st}")
        check(len(children(rd.p.pid)) <= 4, f"at most 4 workers: {children(rd.p.pid)}")
        rd.term("while idle")

        # --- SIGTERM with a page hanging, and with requests queued behind hung pages ---
        rd = Render(tmp, data, "render-hang")
        check(rd.ready(), "render answers (2)")
        threads = [threading.Thread(target=cgi, args=(rd.endpoint, "/_fault/hang", f"n={i}"))
                   for i in range(4)]
        threads += [threading.Thread(target=cgi, args=(rd.endpoint, "/journal", f"page={i}"))
                    for i in range(1, 9)]
        for th in threads:
            th.start()
        wait_until(lambda: sum(cpu_seconds(k) > 0.1 for k in children(rd.p.pid)) >= 4, 5)
        rd.term("with 4 pages hanging and 8 requests queued")
        for th in threads:
            th.join()

        # --- SIGTERM while waiting for the datafile ------------------------------------
        rd = Render(tmp, tmp + "/not-yet.xml", "render-wait")
        check(wait_until(lambda: "serving on" in rd.logtext(), 10), "render waits for its file")
        rd.term("while waiting for the datafile")

        # --- SIGTERM while indexing a large datafile -----------------------------------
        big = tmp + "/big.xml"
        subprocess.run([BIN + "/l3-render-gen", "-n", "600000", "-o", big], check=True)
        rd = Render(tmp, big, "render-index")
        check(wait_until(lambda: "indexing " in rd.logtext(), 30), "render reports indexing")
        still_indexing = "commands," not in rd.logtext()
        rd.term("while indexing a 530 MB datafile")
        check(still_indexing, "render was still indexing when SIGTERM came")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"page_isolation: {len(failures)} failures")
        return 1
    print("page_isolation: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
