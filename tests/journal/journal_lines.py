#!/usr/bin/env python3
"""journal_lines: thousands of real shell lines through the writer, render and l3-cgi.

The command lines are not ours. Nobody on this project wrote them: they are read at run
time from shell code that Debian 12 ships and `scripts/install-deps` installs, taken
byte for byte (tabs, quotes, raw escape bytes and all; non-UTF-8 would be kept too,
though these sources have none):
  - the bash-completion package (`dpkg -L bash-completion`: bash_completion and its
    completions/ scripts, written by the bash-completion authors and the packages'
    maintainers), sampled by a fixed stride down to about 7,000 lines (every 4th on
    Debian 12);
  - /etc/bash.bashrc, /etc/profile, /etc/profile.d/*.sh, /etc/skel/.bashrc and
    /etc/skel/.profile, every candidate line;
  - the shell scripts in /usr/bin and /usr/sbin (first line a sh or bash shebang), down
    to about 3,000 lines, and the shell scripts and libraries under /usr/share and
    /usr/lib named *.sh, down to about 1,500, each by a fixed stride;
  - every candidate line holding a byte outside printable ASCII, whatever its group (so
    dpkg's raw ESC colour codes in /usr/share/dpkg/sh/dpkg-error.sh are always in);
  - multi-line constructs as the shell sees one command: function definitions (a
    `name()` line at column 0 through the next `}` at column 0) and commands continued with
    a trailing backslash, kept only when `bash -O extglob -n` accepts them alone.
A candidate line is one that is neither blank nor a comment. Files are taken in sorted
path order, constructs at their first line; the corpus, its size and its sha256 are
printed. NUL-separated, it goes to `l3-render-gen --lines FILE --null`, which makes each
one a command record (sessions of a few users on a few hosts, realistic times, some
echoing their own text as output, some failing) and pushes them to a real l3-writer; the
writer's ack of the last record means all are on disk. A real l3-render indexes that
datafile (requests on an ipc:// endpoint in the test's directory) and lighttpd runs the
real l3-cgi for every request (when lighttpd is not installed, the test execs l3-cgi
itself with the CGI environment, as a web server would).

Checks (each failure names this file's line; "1 s" is 3 s in the sanitizer build, see
DEADLINE below):
  - every journal page (/journal?page=N, N from the pages' own links) answers 200 in under
    1 s; every command is on the page its ID says, and the text of its command-line
    element (html.parser: tags stripped, entities decoded) is its line as the journal
    shows text: invalid UTF-8 as U+FFFD (one per byte), C0 controls but tab and newline,
    DEL and C1 controls dropped (render/ansi.h). Inside that element only the markup the
    journal makes (word links, icons, <s>, <mark>, colour spans) may appear, and no raw
    '<' or '&' in its text: a line's markup characters are escaped;
  - /api/commands (all of them, oldest first) returns each line exactly as a JSON
    string: bytes that are not UTF-8 as U+FFFD (docs/journal.md); with html=1, each
    command's fragment (what the journal shows) holds its text as above;
  - a fixed sample of permalinks: /cmd/ID, /cmd/ID?full=1 and /api/cmd/ID answer 200 in
    under 1 s with the same text;
  - a list (a journal page, an html=1 fragment, a search page) shows at most the first
    4 KiB of a line (render/ui.h UI_LIST_LINE_MAX, cut between characters): a longer
    line is checked there for that start, and on its permalinks, which join the sample,
    for all of it (Debian 12's lines are all shorter; the corpus line says how many);
  - a fixed sample of searches for a substring found in one line only (/search?q=...)
    answer 200 in under 1 s and show that command with its text.
The slowest requests of each kind are printed. Env: L3_BIN_DIR, L3_SOURCE_DIR (CTest sets
them), L3_LINES_VIA=cgi to skip lighttpd, L3_ARTIFACTS (the corpus is copied there on
failure).
"""
import concurrent.futures
import glob
import hashlib
import html
import html.parser
import http.client
import inspect
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

BIN = os.environ["L3_BIN_DIR"]
SRC = os.environ["L3_SOURCE_DIR"]
ART = os.environ.get("L3_ARTIFACTS", tempfile.gettempdir() + "/journal-artifacts")
VIA = os.environ.get("L3_LINES_VIA", "http" if shutil.which("lighttpd") else "cgi")

# Under ASan+UBSan (CTest sets L3_LINES_SANITIZED) every process is several times slower
# and each l3-cgi exec alone costs 0.1-0.3 s on a loaded 2-core machine: the deadline is
# then 3 s (still far below "never answers"; render's own page deadline applies as well),
# the samples are smaller, and l3-cgi runs without LeakSanitizer's exit-time scan (~0.2 s
# per exec; journal_web runs it with the scan). Every page and every command is still
# checked.
SANITIZED = os.environ.get("L3_LINES_SANITIZED", "") not in ("", "0", "OFF")
PAGE_SIZE = 100
DEADLINE = 3.0 if SANITIZED else 1.0   # seconds per request
SAMPLE_PERMALINKS = 40 if SANITIZED else 270     # at random
SAMPLE_ODD = 20 if SANITIZED else 30              # multi-line or odd bytes, at random
SAMPLE_SEARCHES = 40 if SANITIZED else 100
BUDGET = 200              # seconds of requests at most (CTest's TIMEOUT is 300)
QUOTA = {"bash-completion": 7000, "bin": 3000, "lib": 1500}
MULTILINE_MAX = 300
MIN_CORPUS = 5000         # fewer: the sources are missing (run scripts/install-deps)
GIVE_UP_AFTER = 3         # failed requests in a row, then a failed probe: render is down

failures = []
procs = []
timings = {}              # kind -> [(seconds, what)]


def check(cond, msg):
    line = inspect.currentframe().f_back.f_lineno
    if not cond:
        failures.append(f"journal_lines.py:{line}: {msg}")
        print(f"journal_lines.py:{line}: FAIL: {msg}", flush=True)
    return cond


class Reporter:
    """One check over many items: the first few failures in full, then a count."""

    def __init__(self, what, show=8):
        self.what, self.show, self.bad, self.n = what, show, 0, 0
        self.line = inspect.currentframe().f_back.f_lineno

    def item(self, cond, msg):
        self.n += 1
        if not cond:
            self.bad += 1
            if self.bad <= self.show:
                line = inspect.currentframe().f_back.f_lineno
                print(f"journal_lines.py:{line}: FAIL: {self.what}: {msg}", flush=True)
        return cond

    def done(self):
        if self.bad:
            failures.append(f"journal_lines.py:{self.line}: {self.what}: {self.bad} of "
                            f"{self.n} failed")
            print(f"journal_lines.py:{self.line}: FAIL: {self.what}: {self.bad} of {self.n} "
                  "failed", flush=True)


# ------------------------------------------------------------------------------- corpus

SHEBANG = re.compile(rb"#! ?(/usr)?/bin/(env +)?(ba)?sh(\s|$)")
FUNC_START = re.compile(rb"[A-Za-z_][A-Za-z0-9_:.-]*\s*\(\)\s*(\{\s*)?$")


def candidate(line):
    s = line.strip(b" \t")
    return bool(s) and not s.startswith(b"#")


def unusual(line):
    return any(b < 0x20 and b != 0x09 or b >= 0x7f for b in line)


def shebang_files(dirs):
    """Regular files (not symlinks) directly in dirs whose first line is a sh/bash shebang."""
    out = []
    for d in dirs:
        for n in os.listdir(d):
            p = os.path.join(d, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            try:
                with open(p, "rb") as f:
                    if SHEBANG.match(f.readline(256)):
                        out.append(p)
            except OSError:
                continue
    return sorted(out)


def sh_named_files(dirs):
    """Regular files (not symlinks) anywhere under dirs named *.sh (by name: reading the
    first line of every file there would cost seconds)."""
    out = []
    for d in dirs:
        for root, _, names in os.walk(d):
            for n in names:
                p = os.path.join(root, n)
                if n.endswith(".sh") and not os.path.islink(p) and os.path.isfile(p):
                    out.append(p)
    return sorted(out)


def bash_accepts(text):
    r = subprocess.run(["bash", "-O", "extglob", "-n"], input=text, capture_output=True)
    return r.returncode == 0


def constructs(lines):
    """(index, bytes) of the multi-line commands starting in a file's lines."""
    out = []
    i = 0
    while i < len(lines):
        ln = lines[i]
        if FUNC_START.match(ln):
            for j in range(i + 1, min(len(lines), i + 41)):
                if lines[j] == b"}":
                    out.append((i, b"\n".join(lines[i:j + 1])))
                    break
        elif candidate(ln) and ln.endswith(b"\\") and not ln.endswith(b"\\\\"):
            j = i
            while j + 1 < len(lines) and lines[j].endswith(b"\\") and j - i < 20:
                j += 1
            if j > i:
                out.append((i, b"\n".join(lines[i:j + 1])))
        i += 1
    return out


def build_corpus():
    """The command lines (bytes) and a summary of where they came from."""
    pkg = subprocess.run(["dpkg", "-L", "bash-completion"], capture_output=True, text=True)
    bc = sorted(p for p in pkg.stdout.split("\n") if p.startswith("/usr/share/bash-completion/")
                and os.path.isfile(p) and not os.path.islink(p))
    etc = [p for p in ["/etc/bash.bashrc", "/etc/profile", "/etc/skel/.bashrc",
                       "/etc/skel/.profile"] + sorted(glob.glob("/etc/profile.d/*.sh"))
           if os.path.isfile(p)]
    groups = [("bash-completion", bc), ("etc", etc),
              ("bin", shebang_files(["/usr/bin", "/usr/sbin"])),
              ("lib", sh_named_files(["/usr/share", "/usr/lib"]))]
    seen_files = set()   # a file in two groups counts in the first
    items = []           # (group order, path, line index, sub, bytes)
    multi = []
    summary = []
    for gi, (name, files) in enumerate(groups):
        files = [f for f in files if os.path.realpath(f) not in seen_files]
        seen_files.update(os.path.realpath(f) for f in files)
        cands = []
        for path in files:
            try:
                data = open(path, "rb").read()
            except OSError:
                continue
            if b"\0" in data:
                continue
            lines = data.split(b"\n")
            for k, ln in enumerate(lines):
                if candidate(ln):
                    cands.append((path, k, ln))
            for k, text in constructs(lines):
                multi.append((gi, path, k, text))
        quota = QUOTA.get(name)
        stride = -(-len(cands) // quota) if quota and len(cands) > quota else 1
        taken = [c for n, c in enumerate(cands) if n % stride == 0 or unusual(c[2])]
        items += [(gi, p, k, 0, ln) for p, k, ln in taken]
        summary.append(f"{name}: {len(files)} files, {len(taken)} of {len(cands)} lines "
                       f"(every {stride})")
    mstride = max(1, len(multi) * 2 // (MULTILINE_MAX * 3))
    tried = multi[::mstride]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:   # a bash per construct
        accepted = list(pool.map(lambda m: bash_accepts(m[3]), tried))
    kept = 0
    for (gi, p, k, text), ok in zip(tried, accepted):
        if ok and kept < MULTILINE_MAX:
            items.append((gi, p, k, 1, text))
            kept += 1
    summary.append(f"multi-line: {kept} of {len(multi)} constructs (every {mstride}, "
                   "bash -n accepts each)")
    items.sort(key=lambda t: t[:4])
    return [t[4] for t in items], summary


def utf8_seq(b, i):
    """(length, code point) of the valid UTF-8 sequence at b[i] (proto/l3_utf8.h), or
    (0, 0) when the bytes there are not one (overlong, surrogate, past U+10FFFF,
    truncated, stray continuation)."""
    c = b[i]
    n, v, least = ((1, c, 0) if c < 0x80 else (2, c & 0x1F, 0x80) if 0xC2 <= c <= 0xDF
                   else (3, c & 0x0F, 0x800) if 0xE0 <= c <= 0xEF
                   else (4, c & 0x07, 0x10000) if 0xF0 <= c <= 0xF4 else (0, 0, 0))
    ok = n > 0 and i + n <= len(b)
    for x in b[i + 1:i + n] if ok else ():
        ok = ok and x & 0xC0 == 0x80
        v = v << 6 | x & 0x3F
    ok = ok and least <= v <= 0x10FFFF and not 0xD800 <= v <= 0xDFFF
    return (n, v) if ok else (0, 0)


def decode_strict(b):
    """The journal's UTF-8 reading: a byte that does not start a valid sequence is one
    U+FFFD, and the next byte is read afresh."""
    out = []
    i = 0
    while i < len(b):
        n, v = utf8_seq(b, i)
        out.append(chr(v) if n else "\ufffd")
        i += n or 1
    return "".join(out)


def shown_text(b):
    """A line as the journal's HTML shows it (ansi_html_escape)."""
    return "".join(ch for ch in decode_strict(b)
                   if not (ord(ch) < 0x20 and ch not in "\t\n" or 0x7F <= ord(ch) <= 0x9F))


# The corpus may hold no invalid UTF-8 (Debian's shell code has none): the expected
# values' rules are checked here on their own, against what render/ansi.c and the JSON
# encoder do byte by byte.
for raw, want_json, want_html in [
        (b"ls\t-l\n", "ls\t-l\n", "ls\t-l\n"),
        (b"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\u00e9\u20ac\U0001f600", "\u00e9\u20ac\U0001f600"),
        (b"\xc3\x28 \xff", "\ufffd( \ufffd", "\ufffd( \ufffd"),
        (b"\xe0\x80\x80\xed\xa0\x80\xf4\x90\x80\x80", "\ufffd" * 10, "\ufffd" * 10),
        (b"\xe2\x82", "\ufffd\ufffd", "\ufffd\ufffd"),
        (b"a\x1b[0m\rb\x7f\xc2\x85c", "a\x1b[0m\rb\x7f\x85c", "a[0mbc")]:
    assert decode_strict(raw) == want_json, (raw, decode_strict(raw))
    assert shown_text(raw) == want_html, (raw, shown_text(raw))


# What a list shows of a command line (render/ui.h UI_LIST_LINE_MAX, render/ui_shared.c
# ui_cut): all of it up to this many bytes, else at most that many, never splitting a
# valid UTF-8 character; the command's permalink shows all of it.
LIST_LINE_MAX = 4096


def list_cut(b):
    """The bytes of a command line a list shows."""
    if len(b) <= LIST_LINE_MAX:
        return b
    for back in (1, 2, 3):
        n, _ = utf8_seq(b, LIST_LINE_MAX - back)
        if n > back:
            return b[:LIST_LINE_MAX - back]
        if n:
            break
    return b[:LIST_LINE_MAX]


# The cut's rule on its own, as render/ui_shared.c ui_cut makes it (the corpus may have no
# line long enough): a character across byte 4096 is left out whole; invalid bytes (here a
# truncated U+20AC) are one U+FFFD each, and any cut between them is a boundary.
for raw, shown in [(b"a" * 5000, 4096), (b"a" * 4096, 4096),
                   (b"a" * 4095 + "\u00e9".encode() * 2, 4095),
                   (b"a" * 4094 + "\u00e9".encode() * 2, 4096),
                   (b"a" * 4095 + "\u20ac".encode() * 2, 4095),
                   (b"a" * 4094 + "\u20ac".encode() * 2, 4094),
                   (b"a" * 4093 + "\u20ac".encode() * 2, 4096),
                   (b"a" * 4093 + "\U0001f600".encode(), 4093),
                   (b"a" * 4092 + "\U0001f600".encode() * 2, 4096),
                   (b"a" * 4094 + b"\xe2\x82\xe2\x82", 4096)]:
    assert len(list_cut(raw)) == shown, (raw[4090:], len(list_cut(raw)), shown)


# ------------------------------------------------------------------------------- HTML

ALLOWED_IN_CL = {"span", "a", "img", "s", "mark"}


class CommandLines(html.parser.HTMLParser):
    """The text of each command's <code class="cl"> (by the id of its div.cmd), the tags
    found inside it and any raw '<' or '&' left in its text."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.cmd = None
        self.in_cl = False
        self.text = {}
        self.bad_tags = {}
        self.raw = {}
        self.cmd_ids = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self.in_cl:
            if tag not in ALLOWED_IN_CL:
                self.bad_tags.setdefault(self.cmd, []).append(tag)
            return
        cls = (a.get("class") or "").split()
        if tag == "div" and "cmd" in cls and (a.get("id") or "").startswith("c"):
            self.cmd = int(a["id"][1:])
            self.cmd_ids.append(self.cmd)
        elif tag == "code" and "cl" in cls and self.cmd is not None:
            self.in_cl = True
            self.text.setdefault(self.cmd, [])

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if self.in_cl and tag == "code":
            self.in_cl = False

    def handle_data(self, data):
        if self.in_cl:
            self.text[self.cmd].append(data)
            if "<" in data or "&" in data:
                self.raw.setdefault(self.cmd, []).append(data[:60])

    def handle_entityref(self, name):
        if self.in_cl:
            self.text[self.cmd].append(html.unescape(f"&{name};"))

    def handle_charref(self, name):
        if self.in_cl:
            self.text[self.cmd].append(html.unescape(f"&#{name};"))

    def result(self):
        return {k: "".join(v) for k, v in self.text.items()}


def parse_page(body):
    p = CommandLines()
    p.feed(body.decode("utf-8", "strict"))
    p.close()
    return p


def check_cmd_html(rep, page, cid, line, where, listed=False):
    """The command-line element of command cid on a parsed page shows line, escaped; when
    the page is a list (listed), only the start of a long line (list_cut)."""
    got = page.result().get(cid)
    if not rep.item(got is not None, f"{where}: command {cid} has no command-line element"
                    f" (line {line[:80]!r})"):
        return
    want = shown_text(list_cut(line) if listed else line)
    rep.item(got == want, f"{where}: command {cid} shows {got[:120]!r}, want {want[:120]!r} "
             f"(line {line[:120]!r})")
    rep.item(cid not in page.bad_tags, f"{where}: command {cid}: markup from the line: "
             f"<{'>, <'.join(page.bad_tags.get(cid, []))}> (line {line[:120]!r})")
    rep.item(cid not in page.raw, f"{where}: command {cid}: unescaped '<' or '&' in "
             f"{page.raw.get(cid)} (line {line[:120]!r})")


# ------------------------------------------------------------------------------- processes

def free_port():
    """A free port below the kernel's ephemeral range (see tests/l3_port.h for why)."""
    for _ in range(500):
        port = 20000 + random.randrange(12000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def start(args, log, env=None):
    p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env,
                         start_new_session=True)
    procs.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if cond():
                return True
        except (OSError, ValueError, http.client.HTTPException):
            pass
        time.sleep(0.05)
    check(False, f"timed out waiting for {what}")
    return False


class Journal:
    """Requests to the journal: through lighttpd running l3-cgi, or l3-cgi exec'd here."""

    def __init__(self, render_ep, port=None):
        self.render_ep, self.port = render_ep, port
        self.conn = None
        self.failed_in_a_row = 0
        self.started = time.monotonic()
        self.why_down = ""

    def _http(self, path_q):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                self.conn.request("GET", "/journal" + path_q)
                r = self.conn.getresponse()
                body = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return r.status, body
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _cgi(self, path, query):
        env = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
               "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
               "SCRIPT_NAME": "/journal", "L3_RENDER": self.render_ep,
               "PATH": os.environ.get("PATH", "")}
        if SANITIZED:
            env["ASAN_OPTIONS"] = "detect_leaks=0"
        r = subprocess.run([BIN + "/l3-cgi"], env=env, capture_output=True, timeout=10)
        head, _, body = r.stdout.partition(b"\r\n\r\n")
        m = re.match(rb"Status: (\d+)", head)
        return (int(m.group(1)) if m else 200), body

    def get(self, kind, path, query=""):
        """(status, body, seconds); the time is recorded under kind."""
        what = path + ("?" + query if query else "")
        t0 = time.monotonic()
        try:
            if self.port:
                st, body = self._http(what)
            else:
                st, body = self._cgi(path, query)
        except (OSError, http.client.HTTPException, subprocess.TimeoutExpired) as e:
            st, body = 0, str(e).encode()
        dt = time.monotonic() - t0
        timings.setdefault(kind, []).append((dt, what))
        self.failed_in_a_row = 0 if st == 200 else self.failed_in_a_row + 1
        return st, body, dt

    def down(self):
        """True when asking more is pointless: render does not answer even a page it has
        in its cache (one bad page costs one page; this is render itself gone or stuck),
        or the time budget is spent. why_down says which."""
        if time.monotonic() - self.started > BUDGET:
            self.why_down = f"the {BUDGET} s budget for requests is spent"
            return True
        if self.failed_in_a_row < GIVE_UP_AFTER:
            return False
        st, _, dt = self.get("probe", "/api/stats")
        if st == 200:
            return False
        self.why_down = (f"render stopped answering: {GIVE_UP_AFTER} requests failed in a row "
                         f"and /api/stats then answered {st} after {dt:.1f} s")
        return True


def json_body(body):
    try:
        return json.loads(body)
    except ValueError:
        return None


# ------------------------------------------------------------------------------- main

def main():
    os.makedirs(ART, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="l3-lines-")
    data = tmp + "/data.xml"
    writer_ep, acks_ep = f"ipc://{tmp}/writer", f"ipc://{tmp}/acks"
    render_ep = f"ipc://{tmp}/render"
    logs = {n: open(f"{tmp}/{n}.log", "w") for n in ("writer", "render", "http")}
    t_start = time.monotonic()
    try:
        # --- the corpus ---------------------------------------------------------------------
        lines, summary = build_corpus()
        blob = b"".join(ln + b"\0" for ln in lines)
        with open(tmp + "/corpus", "wb") as f:
            f.write(blob)
        for s in summary:
            print("journal_lines: corpus:", s)
        nmulti = sum(b"\n" in ln for ln in lines)
        long_ids = [i for i, ln in enumerate(lines) if len(ln) > LIST_LINE_MAX]
        print(f"journal_lines: corpus: {len(lines)} command lines, {len(blob)} bytes, "
              f"{nmulti} multi-line, {len(long_ids)} longer than a list shows "
              f"({LIST_LINE_MAX} bytes; longest {max(map(len, lines), default=0)}), "
              f"{sum(unusual(ln) for ln in lines)} with bytes outside printable ASCII, "
              f"sha256 {hashlib.sha256(blob).hexdigest()[:16]}", flush=True)
        if not check(len(lines) >= MIN_CORPUS, f"only {len(lines)} real shell lines found "
                     "(is bash-completion installed? run scripts/install-deps)"):
            return 1

        # --- the real writer makes the datafile ---------------------------------------------
        writer = start([BIN + "/l3-writer", "--datafile", data, "--bind", writer_ep,
                        "--ack-bind", acks_ep], logs["writer"])
        wait_for(lambda: os.path.exists(data), 10, "the writer's datafile")
        t0 = time.monotonic()
        r = subprocess.run([BIN + "/l3-render-gen", "--lines", tmp + "/corpus", "--null",
                            "--per-session", "40", "--seed", "7", "--push", writer_ep,
                            "--acks", acks_ep], capture_output=True, text=True, timeout=120)
        if not check(r.returncode == 0, f"l3-render-gen --push: every record acked by the "
                     f"writer: {r.stderr.strip()}"):
            return 1
        print(f"journal_lines: {len(lines)} commands written and acked by l3-writer in "
              f"{time.monotonic() - t0:.1f} s ({os.path.getsize(data) >> 10} KiB)", flush=True)
        check(subprocess.run(["xmllint", "--noout", data]).returncode == 0
              if shutil.which("xmllint") else True, "the datafile is well-formed XML")

        # --- render on it, lighttpd in front ------------------------------------------------
        cfg = tmp + "/lilalo.cfg"
        with open(cfg, "w") as f:
            f.write(f"""render
    datafile = "{data}"
    bind = "{render_ep}"
    commits = "{acks_ep}"
    timezone = "UTC"
    page_size = {PAGE_SIZE}
""")
        render = start([BIN + "/l3-render", "-c", cfg], logs["render"])
        port = None
        if VIA == "http":
            port = free_port()
            env = dict(os.environ, L3_HTTP_PORT=str(port), L3_WWW=SRC + "/conf/www",
                       L3_CGI=BIN + "/l3-cgi", L3_RENDER=render_ep, L3_HTTP_STATE=tmp)
            conf = SRC + "/conf/lighttpd/lilalo.conf"
            if SANITIZED:
                # lighttpd hands a CGI only the CGI variables and its setenv list.
                conf = tmp + "/lighttpd.conf"
                with open(conf, "w") as f:
                    f.write(f'include "{SRC}/conf/lighttpd/lilalo.conf"\n'
                            '$HTTP["url"] =~ "^/journal" {\n'
                            '  setenv.add-environment += ("ASAN_OPTIONS" => "detect_leaks=0")\n'
                            '}\n')
            start(["lighttpd", "-D", "-f", conf], logs["http"], env=env)
        j = Journal(render_ep, port)
        print(f"journal_lines: requests through "
              f"{'lighttpd running l3-cgi' if port else 'l3-cgi exec’d as a CGI'}", flush=True)

        def indexed():
            st, body, _ = j.get("warm-up", "/api/stats")
            s = json_body(body) if st == 200 else None
            return s is not None and s["commands"] == len(lines)
        if not wait_for(indexed, 30, f"render indexing all {len(lines)} commands"):
            return 1

        # --- JSON API: every line exactly; html=1 fragments as the permalink shows them ------
        api, frag = Reporter("/api/commands cmd is the line"), Reporter("html=1 fragment text")
        got_json = {}
        st, body, _ = j.get("api", "/api/cmd/0")
        c0 = json_body(body) if st == 200 else None
        check(c0 is not None, f"/api/cmd/0: {st}")
        if c0:
            got_json[0] = c0["cmd"]
        since, chunk = 0, 250
        while since < len(lines) - 1:
            if j.down():
                check(False, f"{j.why_down}; /api/commands from {since} on not asked")
                break
            st, body, dt = j.get("api", "/api/commands", f"since={since}&limit={chunk}&html=1")
            obj = json_body(body) if st == 200 else None
            if not check(obj is not None and b"<" not in body,
                         f"/api/commands?since={since}: {st}, JSON without a raw '<'"):
                since += chunk    # IDs are dense: go on with the next ones
                continue
            for c in obj["commands"]:
                got_json[c["id"]] = c["cmd"]
                if 0 <= c["id"] < len(lines):
                    check_cmd_html(frag, parse_page(c["html"].encode()), c["id"],
                                   lines[c["id"]], "html=1", listed=True)
            if not obj["commands"]:
                break
            since = obj["next"]
        check(sorted(got_json) == list(range(len(lines))),
              f"/api/commands lists IDs 0..{len(lines) - 1} ({len(got_json)} seen)")
        for i, ln in enumerate(lines):
            if i in got_json:
                want = decode_strict(ln)
                api.item(got_json[i] == want, f"command {i}: {got_json[i][:120]!r}, want "
                         f"{want[:120]!r}")
        api.done()
        frag.done()

        # --- every journal page -------------------------------------------------------------
        st, body, _ = j.get("journal", "/journal")
        npages = -(-len(lines) // PAGE_SIZE)
        links = [int(x) for x in re.findall(rb'<a href="[^"]*[?;]page=(\d+)"', body)]
        current = re.findall(rb'<nav class="pages">.*?<b>(\d+)</b>', body, re.S)
        shown = max(links + [int(x) for x in current] + [0])
        check(st == 200 and shown == npages,
              f"the newest journal page: {st}, its links reach page {shown}, want {npages}")
        pages_rep = Reporter("journal page answers 200 in under 1 s", show=20)
        text_rep = Reporter("command text on its journal page")
        on_page = Reporter("commands on their journal page")
        for n in range(1, npages + 1):
            if j.down():
                check(False, f"{j.why_down}; journal pages from {n} on not asked")
                break
            st, body, dt = j.get("journal", "/journal", f"page={n}")
            first = (n - 1) * PAGE_SIZE
            ids = list(range(first, min(first + PAGE_SIZE, len(lines))))
            if not pages_rep.item(st == 200 and dt < DEADLINE,
                                  f"/journal?page={n}: {st} in {dt:.3f} s (commands "
                                  f"{ids[0]}..{ids[-1]})"):
                if st != 200:
                    continue
            page = parse_page(body)
            on_page.item(page.cmd_ids == ids, f"page {n}: commands "
                         f"{page.cmd_ids[:3]}..{page.cmd_ids[-3:]}, want {ids[0]}..{ids[-1]}")
            for cid in ids:
                check_cmd_html(text_rep, page, cid, lines[cid], f"/journal?page={n}",
                               listed=True)
        pages_rep.done()
        on_page.done()
        text_rep.done()

        # --- a fixed sample of permalinks ---------------------------------------------------
        rnd = random.Random(2005)
        multi_ids = [i for i, ln in enumerate(lines) if b"\n" in ln or unusual(ln)]
        sample = sorted(set(rnd.sample(range(len(lines)), min(SAMPLE_PERMALINKS, len(lines)))
                            + rnd.sample(multi_ids, min(SAMPLE_ODD, len(multi_ids)))
                            + long_ids))
        perm_rep = Reporter("permalink answers 200 in under 1 s", show=20)
        perm_text = Reporter("command text on its permalink")
        for cid in sample:
            if j.down():
                check(False, f"{j.why_down}; permalinks from {cid} on not asked")
                break
            for q in ("", "full=1"):
                st, body, dt = j.get("permalink", f"/cmd/{cid}", q)
                where = f"/cmd/{cid}" + ("?" + q if q else "")
                if perm_rep.item(st == 200 and dt < DEADLINE, f"{where}: {st} in {dt:.3f} s") \
                        or st == 200:
                    check_cmd_html(perm_text, parse_page(body), cid, lines[cid], where)
            st, body, dt = j.get("api-cmd", f"/api/cmd/{cid}")
            obj = json_body(body) if st == 200 else None
            perm_rep.item(st == 200 and dt < DEADLINE, f"/api/cmd/{cid}: {st} in {dt:.3f} s")
            perm_text.item(obj is not None and obj.get("cmd") == decode_strict(lines[cid]),
                           f"/api/cmd/{cid}: cmd {obj and obj.get('cmd', '')[:80]!r}, want "
                           f"{decode_strict(lines[cid])[:80]!r}")
        perm_rep.done()
        perm_text.done()

        # --- searches for substrings only one line has ----------------------------------------
        search_rep = Reporter("search answers 200 in under 1 s and finds the command", show=20)
        search_text = Reporter("command text on the search page")
        needles = []
        for cid in rnd.sample(range(len(lines)), len(lines)):
            if len(needles) == SAMPLE_SEARCHES:
                break
            ln = lines[cid]
            text = ln.split(b"\n")[0].strip(b" \t")
            if len(text) < 12 or unusual(text):
                continue
            text = text.split(b"\t")[0]     # a query is text: no tab (400, docs/journal.md)
            at = rnd.randrange(0, max(1, len(text) - 24))
            needle = text[at:at + rnd.randrange(12, 40)].strip(b" ")
            if len(needle) >= 8 and sum(needle in x for x in lines) == 1:
                needles.append((cid, needle))
        check(len(needles) == SAMPLE_SEARCHES, f"{len(needles)} distinctive substrings found")
        for cid, needle in needles:
            if j.down():
                check(False, f"{j.why_down}; searches from {needle!r} on not asked")
                break
            q = "q=" + urllib.parse.quote(needle, safe="")
            st, body, dt = j.get("search", "/search", q)
            page = parse_page(body) if st == 200 else None
            found = page is not None and cid in page.cmd_ids
            search_rep.item(st == 200 and dt < DEADLINE and found,
                            f"/search?{q}: {st} in {dt:.3f} s, command {cid} "
                            f"{'found' if found else 'not found'}")
            if found:
                check_cmd_html(search_text, page, cid, lines[cid], f"/search?{q}",
                               listed=True)
        search_rep.done()
        search_text.done()
        check(render.poll() is None, "render is still running")
        stop(render)
        stop(writer)
    finally:
        for p in procs:
            stop(p)
        for f in logs.values():
            f.close()
        for kind, ts in timings.items():
            if kind == "warm-up":
                continue
            ts.sort(reverse=True)
            slow = ", ".join(f"{t * 1000:.0f} ms {w[:60]}" for t, w in ts[:3])
            print(f"journal_lines: {kind}: {len(ts)} requests, median "
                  f"{ts[len(ts) // 2][0] * 1000:.0f} ms, slowest: {slow}")
        if failures:
            for n in ("render", "writer", "http"):
                try:
                    print(f"--- {n}.log (tail)\n" + open(f"{tmp}/{n}.log").read()[-2000:])
                except OSError:
                    pass
            if os.path.exists(tmp + "/corpus"):
                shutil.copy(tmp + "/corpus", ART + "/journal_lines.corpus")
                print(f"journal_lines: the corpus (NUL-separated) is in {ART}/journal_lines.corpus")
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"journal_lines: {len(failures)} failures in {time.monotonic() - t_start:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
