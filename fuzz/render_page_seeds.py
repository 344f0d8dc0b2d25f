#!/usr/bin/env python3
"""Seed corpora for the render_page fuzz targets (fuzz/render_page.c).

Writes fuzz/corpus/render_page_<kind>/seed-NN for every page kind, in the input layout
documented at the top of render_page.c: a request header, then records. The seeds are
ordinary sessions with the command lines and outputs that have broken journals before or
might: ')' '$((' '`' quotes and heredocs, subshells, comments, invalid UTF-8, ANSI/OSC
junk, markup, long outputs (repeated), timing lines, diffs, other users' sessions, the
Russian pages, HEAD, odd ids.

    fuzz/render_page_seeds.py [CORPUS_DIR]     (default: the corpus dir next to it)

Files named seed-* are rewritten; other files (crashes and merged finds) are kept.
"""
import os
import struct
import sys

KINDS = ["journal", "session", "cmd_full", "search", "stats", "api", "export_txt",
         "export_cast", "export_json", "replay"]
PARAMS = ["page", "host", "user", "session", "from", "to", "failed", "q", "before", "since",
          "limit", "html", "full"]
RAW_TAIL = 13


def s(data):
    """A length-prefixed string."""
    if isinstance(data, str):
        data = data.encode()
    n = len(data)
    if n < 0x80:
        return bytes([n]) + data
    assert n < 0x8000
    return bytes([0x80 | (n >> 8), n & 0xff]) + data


def header(config=0, tz=0, head=False, replay=False, who=0, user="", lang="", route=0,
           ident=0, params=None, raw=None):
    """config: language | page size << 2 | head/tail << 4 | instructors << 6.
    who: 0 none, 2 slot 0's user, 3 slot 1's, 4 "teacher", 5 "teacher admin", 6 custom."""
    env = tz | (4 if head else 0) | (8 if replay else 0) | (who << 4)
    params = params or {}
    mask = 0
    vals = b""
    for k, name in enumerate(PARAMS):
        if name in params:
            mask |= 1 << k
            vals += s(params[name])
    if raw is not None:
        mask |= 1 << RAW_TAIL
        vals += s(raw)
    return (bytes([config, env]) + s(user) + s(lang) + bytes([route]) +
            struct.pack(">HH", ident, mask) + vals)


def session(slot=0, ident=None, times=None, numbers=None):
    return record(1, slot, ident=ident, times=times, numbers=numbers)


def end(slot=0, exit_code=None, times=None, numbers=None):
    return record(2, slot, has_exit=exit_code is not None, times=times, numbers=numbers)


def command(line, out=b"", slot=0, cwd="/home/alice", exit_code=0, line_rep=0, out_rep=0,
            timing=b"", diff=b"", ident=None, times=None, numbers=None):
    body = (s(cwd) + s(line) + bytes([line_rep]) + s(out) + bytes([out_rep]) + s(timing) +
            s(diff))
    return record(0, slot, has_exit=exit_code is not None, ident=ident, times=times,
                  numbers=numbers) + body


def numbers(exit_code=0, signal=0, flags=0, nr=1, dropped=0, head=0, cols=80, rows=24):
    return struct.pack(">IBBIIHHH", exit_code & 0xffffffff, signal, flags, nr, dropped, head,
                       cols, rows)


def record(rtype, slot, has_exit=False, ident=None, times=None, numbers=None):
    kind = rtype | (slot << 2)
    extra = b""
    if ident is not None:
        kind |= 0x10
        extra += b"".join(s(x) for x in ident)  # host, user, sid, tty
    if has_exit:
        kind |= 0x20
    if times is not None:
        kind |= 0x40
        extra += struct.pack(">QI", *times)  # start us, duration us
    if numbers is not None:
        kind |= 0x80
        extra += numbers
    return bytes([kind]) + extra


FULLSCREEN, INTERRUPTED, TRUNCATED = 1, 2, 4
LS = b"total 8\r\n-rw-r--r-- 1 alice alice 12 Nov 24 \x1b[01;34mnotes\x1b[0m\r\n"

# Command lines the formatter must get through: subshells, arithmetic, backquotes,
# quotes, functions, heredocs, comments, odd bytes.
LINES = [
    "echo $((6*7))", "(exit 3)", "f() { echo hi; }", "echo $(date) `uname -r`",
    "ls -l | grep ')' ; echo \"a)b\" 'c)d'", "sudo -u bob env X=1 ls", "cat <<'EOF' > /tmp/x",
    "# restarted nginx after the config change", "a=$( (echo x) ) && echo \"$a\" || true &",
    "echo '<script>alert(1)</script>' \"</code>\" &amp; &lt;", "printf '\\xff\\xfe' \\)",
    ")))(((", "`", "\"unterminated", "'", "\\", "x\ty\nz", "/usr/bin/ls --color=auto",
    "for i in 1 2; do (echo $i); done", "echo )(", "$(($((1+2))*3))",
]


def basic_session(slot=0, lines=LINES, outs=None):
    rec = session(slot)
    outs = outs or [LS]
    for i, line in enumerate(lines):
        rec += command(line, outs[i % len(outs)], slot=slot, exit_code=i % 3)
    return rec


def hostile_records():
    return (session(0) +
            command(b"echo \xff\xfe broken \xc3\x28 \xed\xa0\x80", b"\xff\xfe bad \xc3\x28\r\n",
                    exit_code=1) +
            command("printf '\\e]0;title\\a'", b"\x1b]0;title\x07\x1b[2J\x1b[?1049hjunk\x1b[0m"
                    b"\x1b[38;2;255;0;0mred\x1b[0m\x1bP+q544e\x1b\\\r\n") +
            command("cat page.html", b"<img src=x onerror=alert(2)></pre><script>x</script>"
                    b"<a href=\"javascript:alert(3)\">&amp;&#0;\r\n", cwd="/tmp/<b>\"'") +
            command("echo ')' \"`\"", b"progress 10%\rprogress 100%\r\n\x00\x07\x7f\xc2\x85") +
            command("true", b"\xef\xbf\xbe\xef\xbf\xbf text \xf4\x90\x80\x80\r\n",
                    cwd=b"/tmp/\xff\x1b"))


def long_records():
    # 2^10 copies of a listing line (the elided middle), a long line, a truncated output.
    return (session(0) +
            command("yes | head -n 1024", b"y line of output\r\n", out_rep=0xfa) +
            command("cat one-long-line", b"0123456789abcdef", out_rep=0xfc) +
            command("seq 100000", b"12345\n", out_rep=0xf8, exit_code=None,
                    numbers=numbers(0, 0, TRUNCATED, 3, 1000000, 100)) +
            command(b"x" * 60 + b" )" * 20, b"", line_rep=0xf4))


def fullscreen_records():
    diff = (b"--- a/etc/app.conf\n+++ b/etc/app.conf\n@@ -1,3 +1,3 @@\n listen 80\n"
            b"-workers 2\n+workers 8\n timeout 30\n")
    return (session(0) +
            command("vim /etc/app.conf", b"\x1b[?1049h\x1b[Hscreen\x1b[?1049l", diff=diff,
                    numbers=numbers(0, 0, FULLSCREEN, 1)) +
            command("ping -c 100 10.0.0.1", b"64 bytes from 10.0.0.1\r\n^C\r\n",
                    numbers=numbers(130, 2, INTERRUPTED, 2)) +
            command("systemclt status", b"bash: systemclt: command not found\r\n",
                    exit_code=127) +
            end(0, exit_code=0))


def timing_records():
    out = b"one\r\ntwo\r\nthree\r\n"
    return (session(0, numbers=numbers(cols=132, rows=43)) +
            command("slow", out, timing=b"0.5 5\n1.25 5\n-1 2\n7 100\n") +
            command("fast", out, timing=b"0 1\n0.000001 99999999999999999999\n") +
            command("junk", out, timing=b"garbage\n1e308 1\ninf 1\n") +
            end(0, exit_code=0))


def many_sessions():
    # Four users on three hosts, sessions interleaved, one still open.
    rec = session(0) + session(1) + session(2) + session(3)
    for i in range(8):
        slot = i % 4
        rec += command(LINES[i], LS, slot=slot, exit_code=i % 2)
    rec += end(1, exit_code=0) + end(2, exit_code=1)
    return rec


def odd_identities():
    # Names with markup, quotes, ampersands and spaces (the writer accepts any text).
    ident = ('lab&<1> "x"', 'al ice&amp;', "s-odd.1:@+=", '/dev/pts/"9"')
    rec = session(1, ident=ident) + command("ls & echo", LS, slot=1)
    ident2 = ("h sid=", "u user=", "S2", "")
    rec += session(2, ident=ident2) + command("id", b"uid=0\n", slot=2)
    return rec


def time_records():
    # Far apart dates (1970 and 9999), no end time, a command before its session.
    first = 1 * 1000000
    last = 253402300799 * 1000000 - 5
    return (command("early", b"", times=(first, 0)) +
            session(0, times=(last - 100, 0)) +
            command("late", b"x\n", times=(last - 10, 5)) +
            command("again", b"", times=(1795000000 * 1000000, 1000000)))


def long_names():
    # Names the writer accepts whose escaped form is over 255 bytes (render/index.c
    # dropped the host's records and emptied the user).
    host = "h" * 240 + "&&&&"
    user = "u" * 250 + '"'
    return (session(1, ident=(host, "bob", "s9", "")) + command("ls", b"x\n", slot=1) +
            session(2, ident=("lab9", user, "s10", "<" * 60)) + command("id", b"y\n", slot=2))


SETS = {
    "basic": basic_session,
    "hostile": hostile_records,
    "long": long_records,
    "fullscreen": fullscreen_records,
    "timing": timing_records,
    "many": many_sessions,
    "odd": odd_identities,
    "times": time_records,
    "long-names": long_names,
}


def seeds_for(kind):
    """(name, bytes) pairs for one kind: every record set under a plain request, and the
    request variations that matter for the kind."""
    out = []
    route_of = {"journal": 0, "search": 0, "stats": 0, "api": 0}
    for i, (name, make) in enumerate(SETS.items()):
        out.append((name, header(route=route_of.get(kind, 0), ident=0,
                                 params={"q": "e"} if kind == "search" else None) + make()))
    recs = many_sessions()
    # Another user's eyes, an instructor, a name that only looks like two instructors.
    out.append(("as-bob", header(who=3, ident=0, config=2 << 6) + recs))
    out.append(("as-teacher", header(who=4, ident=1, config=1 << 6) + recs))
    out.append(("as-teacher-admin", header(who=5, ident=1, config=2 << 6) + recs))
    out.append(("ru-head", header(config=2, head=True, lang="ru-RU,ru;q=0.9", ident=1) + recs))
    out.append(("small-pages", header(config=(1 << 2) | (1 << 4), tz=3, replay=True, ident=2,
                                      params={"page": "2", "failed": "1"}) + recs))
    out.append(("odd-id", header(route=0x80, ident=1, tz=1) + recs))
    extra = {
        "journal": [
            ("index", header(route=2) + recs),
            ("filters", header(params={"host": b"\x00", "user": b"\x01", "from": "2026-11-20",
                                       "to": "2026-11-30", "session": "1"}) + recs),
            ("query-q", header(params={"q": ")"}) + basic_session()),
            ("raw-tail", header(raw="page=99999999999&x&y=%zz") + recs),
        ],
        "session": [("session-q", header(ident=0, params={"q": "$(("}) + basic_session())],
        "cmd_full": [("no-full", header(route=3, ident=1) + long_records()),
                     ("full-q", header(ident=2, params={"q": "1"}) + long_records())],
        "search": [
            ("q-paren", header(params={"q": ")"}) + basic_session()),
            ("q-tag", header(params={"q": "line"}) + basic_session()),
            ("q-entity", header(params={"q": "amp;"}) + hostile_records()),
            ("q-user", header(params={"q": "alice"}) + basic_session()),
            ("q-journal", header(route=2, params={"q": "$(("}) + basic_session()),
            ("q-api", header(route=3, params={"q": "echo", "limit": "2"}) + basic_session()),
            ("q-before", header(params={"q": "echo", "before": "5"}) + basic_session()),
            ("q-ru", header(config=2, params={"q": "строк"}) +
             session(0) + command("echo строка", "строка\n")),
        ],
        "stats": [("api-stats", header(route=1) + recs),
                  ("api-stats-days", header(route=1, tz=2) + time_records()),
                  # a day index rebased on the first command wrapped below it and its
                  # array growth never ended (found here, fixed in ec28720)
                  ("days-wrap-hang", header() + session(0) +
                   command("late", b"", times=(LAST_US - 10, 5)) +
                   command("early", b"", times=(1795000000 * 1000000, 5)))],
        "api": [
            ("sessions", header(route=1) + recs),
            ("cmd", header(route=2, ident=3) + recs),
            ("live", header(route=3, ident=0) + recs),
            ("html", header(params={"html": "1", "limit": "3"}) + hostile_records()),
            ("since", header(params={"since": "2", "session": "0"}) + recs),
            ("since-huge", header(params={"since": "9223372036854775807"}) + recs),
        ],
        "export_cast": [("cast-timing", header(ident=0) + timing_records())],
    }
    out += extra.get(kind, [])
    out += REGRESSIONS.get(kind, [])
    return out


# Regressions: inputs that reached bugs found by these targets, each under its target's
# corpus as seed-<name> (fixed in 878bddc unless said otherwise).
LAST_US = 253402300799 * 1000000 - 5
REGRESSIONS = {
    # ui_export_cast: "nan" in the timing lines passed the delay check, times printed "nan".
    "export_cast": [("nan-delay", header() + session(0) +
                     command("slow", b"one\r\ntwo\r\n", timing=b"0.5 5\nnan 3\n")),
                    # a command without timing lines: NULL + 0 (clang UBSan)
                    ("no-timing", header() + session(0) + command("ls", LS))],
    # ui_api_commands: since=INT64_MAX, then since + 1 overflowed (clang UBSan).
    "api": [("since-overflow", header(params={"since": "9223372036854775807"}) +
             session(0) + command("ls", LS))],
    # ui_command_html: a full-screen command with an empty line: strndup(NULL + 0, 0);
    # every command word a link with five icon links: a 1 MiB line of "a;" made a page of
    # hundreds of MB, then 503 for every page that showed it.
    "journal": [("fullscreen-empty-line", header() + session(0) +
                 command("", b"", numbers=numbers(0, 0, FULLSCREEN, 1))),
                ("wide-line", header() + session(0) + command("ls", b"x\n") +
                 command("a;" * 16, b"", line_rep=0xf0 + 15)),
                # list views showed every byte of every command line (and diff): a 1 MiB
                # line of '<' is 4 MiB escaped, and sixteen such commands made each page
                # that listed them answer 503 "too large" (fixed in 1233d24: a list shows
                # the first 4 KiB of a line and links to the command's page).
                ("many-wide-lines", header() + session(0) +
                 b"".join(command("<" * 64, b"", line_rep=0xf0 + 14) for _ in range(16)))],
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    for kind in KINDS:
        d = os.path.join(root, "render_page_" + kind)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.startswith("seed-"):
                os.unlink(os.path.join(d, f))
        for name, data in seeds_for(kind):
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
