// browser.js: headless Chromium (playwright-core) looks at the journal as a person would.
// Driven by journal_web.py: BASE (journal URL), ART (screenshots), NODE_DIR (where
// playwright-core is installed), LIVE_SESSION + APPEND (a command that adds two commands
// to that open session through the real writer), PROFILE (a fresh user-data-dir),
// REPLAY_SESSION + REPLAY_LAST (a session and the text its last output leaves on screen).
"use strict";
const path = require("path");
const { execFileSync } = require("child_process");
const { chromium } = require(path.join(process.env.NODE_DIR, "node_modules", "playwright-core"));

const BASE = process.env.BASE, ART = process.env.ART;
const failures = [];
function check(cond, msg) {
  const line = new Error().stack.split("\n")[2].match(/:(\d+):\d+\)?$/);
  if (!cond) {
    failures.push(msg);
    console.log(`browser.js:${line ? line[1] : "?"}: FAIL: ${msg}`);
  }
  return cond;
}

(async () => {
  const ctx = await chromium.launchPersistentContext(process.env.PROFILE, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1200, height: 900 },
  });
  const dialogs = [], errors = [];
  ctx.on("page", (p) => {
    p.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    p.on("pageerror", (e) => errors.push(String(e)));
  });
  const page = await ctx.newPage();
  page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  page.on("pageerror", (e) => errors.push(String(e)));
  const shot = (name) => page.screenshot({ path: path.join(ART, name + ".png"), fullPage: false });
  const layoutOk = () => page.evaluate(() =>
    document.documentElement.scrollWidth <= window.innerWidth + 1);

  // Index: hosts, users, sessions.
  await page.goto(BASE + "/");
  check((await page.title()).startsWith("Index"), "index title: " + (await page.title()));
  const hosts = await page.locator("section.list").first().innerText();
  check(/lab\d/.test(hosts), "index lists hosts");
  check(await page.locator("section.sessions tbody tr").count() >= 6, "index lists sessions");
  await shot("index");

  // Journal of the hostile session: nothing runs, layout intact, text shown as text.
  await page.goto(BASE + "/journal?session=0&page=1");
  const title = await page.title();
  check(title === "Session #0 — lilalo" || title.startsWith("Journal"), "title untouched: " + title);
  check(await page.locator("h2.day").first().innerText().then((t) => /day, \d+ \w+ 20\d\d/.test(t)),
        "day heading with weekday and date");
  const firstOut = await page.locator("pre.out").first().innerText();
  check(firstOut.includes("<script>alert(1)</script>"), "hostile output shown as text");
  check(await page.locator("img[src='x']").count() === 0, "no injected <img>");
  check(await page.locator("script").count() === 0, "no script element on the journal page");
  check(await page.locator("main h1").count() === 1, "injected <h1> did not become markup");
  check(await page.locator("a[href^='javascript:']").count() === 0, "no javascript: links");
  const broken = await page.locator(".cmd.fail pre.out").first().innerText();
  check(broken.includes("\ufffd broken"), "broken UTF-8 shown as U+FFFD");
  check(await page.locator("span.t[style*='color:#ff0000']").count() >= 1, "truecolour SGR kept");
  const junk = await page.locator("#c3 pre.out").innerText();
  check(!/\]0;|\[2J|title/.test(junk) && junk.includes("red junk"), "OSC/CSI junk dropped: " + junk);
  const big = page.locator("#c4");
  check(await big.locator("a.elide").count() === 1, "the 10 MB line is elided with a link");
  check(/bytes not recorded/.test(await big.innerText()), "dropped bytes are said");
  check(await layoutOk(), "no horizontal overflow on the hostile page");
  check(dialogs.length === 0, "no dialogs: " + dialogs.join(","));
  await shot("journal-hostile");

  // A normal journal page: exits, 127 struck, signals, notes, full screen, diffs, cwd.
  await page.goto(BASE + "/journal?session=1");
  check(await page.locator(".cmd.fail .exit").count() > 0, "failed commands show their exit code");
  check(await page.locator(".cmd.nf .cl s").count() > 0, "command not found is struck through");
  check(await page.locator(".cmd .sig").filter({ hasText: "SIGINT" }).count() > 0, "signal shown");
  check(await page.locator(".cmd.note .notetext").count() > 0, "comments shown as notes");
  check(await page.locator(".cmd .fs").filter({ hasText: "full screen" }).count() > 0,
        "full-screen programs as one line");
  check(await page.locator("pre.diff .add").count() > 0 && await page.locator("pre.diff .del").count() > 0,
        "editor diffs coloured");
  check(await page.locator(".cmd .prompt").first().innerText() === "$", "prompt sign $");
  check(await page.locator("a.w").filter({ hasText: "grep" }).count() > 0, "command words linked");
  const manHref = await page.locator("a.w").first().getAttribute("href");
  check(/^https:\/\/manpages\.debian\.org\//.test(manHref), "man page link " + manHref);
  check(await page.locator(".cmd a.elide").count() > 0, "long output elided in the middle");
  await shot("journal");

  // Root session: prompt sign #.
  await page.goto(BASE + "/journal?user=root");
  check(await page.locator(".cmd .prompt").first().innerText() === "#", "root prompt #");

  // Search with highlights.
  await page.goto(BASE + "/");
  await page.fill("header form.qs input[name=q]", "timeout");
  await page.press("header form.qs input[name=q]", "Enter");
  await page.waitForURL(/q=timeout/);
  const marks = await page.locator("mark").count();
  check(marks > 0, "search highlights matches");
  check((await page.locator("mark").first().innerText()) === "timeout", "highlight is the word");
  await shot("search");

  // Permalink: click a command's time.
  const link = page.locator(".cmd .meta a.time").first();
  const href = await link.getAttribute("href");
  await link.click();
  await page.waitForURL(/\/cmd\/\d+$/);
  check((await page.title()).startsWith("#"), "permalink page title " + (await page.title()));
  check(await page.locator(".cmd").count() === 1, "permalink shows one command");
  check(href.endsWith(page.url().split("/journal")[1]), "permalink URL");
  await shot("permalink");

  // Statistics.
  await page.goto(BASE + "/stats");
  check(await page.locator("section.stat").count() === 4, "four statistics tables");
  check(/Failure ratio: \d/.test(await page.locator("p.ratio").innerText()), "failure ratio");
  check(await page.locator("section.stat").first().locator("tr").count() >= 5, "top commands");
  await shot("stats");

  // Replay in asciinema-player: it loads, plays to the end (at 500x, pauses cut to 2 s)
  // and its terminal shows the session's last output. Waits are on the page's own state
  // (#player[data-state], set from the player's events), not on time.
  const consoleErrors = [];
  const onConsole = (m) => { if (m.type() === "error") consoleErrors.push(m.text()); };
  page.on("console", onConsole);
  await page.goto(BASE + "/replay/" + process.env.REPLAY_SESSION + "?speed=500");
  // The player's terminal, or replay-init.js saying the player did not load.
  await page.waitForSelector("#player .ap-player, #player[data-state=no-player]", { timeout: 20000 })
    .catch(() => {});
  const loaded = check(await page.locator("#player .ap-player").count() === 1,
    "asciinema-player made its terminal (state " + (await page.getAttribute("#player", "data-state")) + ")");
  if (loaded) {
    const done = await page.waitForSelector("#player[data-state=done]", { timeout: 30000 })
      .then(() => true, () => false);
    check(done, "replay played to the end (state " + (await page.getAttribute("#player", "data-state")) + ")");
    const squash = (t) => t.replace(/\s+/g, "");
    // REPLAY_LAST: the lines the screen must show, in order (whitespace aside: the
    // terminal wraps long lines).
    const want = JSON.parse(process.env.REPLAY_LAST || "[]");
    const shows = (term) => {
      let at = 0;
      return want.length > 0 && want.every((w) => {
        const i = squash(term).indexOf(squash(w), at);
        at = i + squash(w).length;
        return i >= 0;
      });
    };
    // The player's "ended" event can come before its terminal paints the last frame (a
    // slow machine, the ASan build): wait for the screen itself (checked at each
    // animation frame), up to 10 s, then judge what it shows.
    await page.waitForFunction(([sel, want]) => {
      const t = document.querySelector(sel);
      const sq = (x) => x.replace(/\s+/g, "");
      let at = 0;
      return !!t && want.length > 0 && want.every((w) => {
        const i = sq(t.innerText).indexOf(sq(w), at);
        at = i + sq(w).length;
        return i >= 0;
      });
    }, [".ap-player .ap-term", want], { timeout: 10000 }).catch(() => {});
    const term = await page.locator(".ap-player .ap-term").innerText();
    const onScreen = shows(term);
    check(onScreen, "the player's screen ends with the session's last output " +
          JSON.stringify(want) + ": " + term.slice(-400));
    check(await page.locator("#replay-speed option").count() >= 5, "speed choice offered");
    check(await page.locator(".ap-player .ap-progressbar").count() === 1, "seek bar shown");
    await shot("replay");
    // Without autoplay: the player waits; new speeds make new players; a click plays it.
    await page.goto(BASE + "/replay/" + process.env.REPLAY_SESSION + "?speed=500&autoplay=0");
    check(await page.waitForSelector("#player[data-state=ready] .ap-player", { timeout: 20000 })
      .then(() => true, () => false), "autoplay=0: the player waits");
    await page.selectOption("#replay-speed", "16", { timeout: 5000 });
    await page.selectOption("#replay-speed", "500", { timeout: 5000 });
    check(await page.getAttribute("#player", "data-state") === "ready", "a new speed, still waiting");
    await page.click("#player .ap-player", { timeout: 5000 });
    check(await page.waitForSelector("#player[data-state=done]", { timeout: 20000 })
      .then(() => true, () => false), "started by a click, played to the end");
  } else {
    await shot("replay");
  }
  check(consoleErrors.length === 0, "no console errors on the replay page (CSP, WebAssembly): " +
        consoleErrors.join("; "));
  page.off("console", onConsole);
  // A build that could not fetch the player (offline): the page says so, links stay.
  const playerUrl = "**/asciinema-player/asciinema-player.min.js";
  await page.route(playerUrl, (r) => r.fulfill({ status: 404, contentType: "text/plain", body: "" }));
  await page.goto(BASE + "/replay/" + process.env.REPLAY_SESSION);
  check(await page.waitForSelector("#player[data-state=no-player]", { timeout: 10000 })
    .then(() => true, () => false), "without the player's script the page knows it");
  check(/not installed/.test(await page.locator("#player").innerText()) &&
        await page.locator("p.exports a").count() === 2, "without the player: a note and the export links");
  await page.unroute(playerUrl);

  // Live: two commands appended through the writer show up within 2 s.
  await page.goto(BASE + "/live/" + process.env.LIVE_SESSION);
  await page.waitForTimeout(300);
  const before = await page.locator("#journal .cmd").count();
  execFileSync(JSON.parse(process.env.APPEND)[0], JSON.parse(process.env.APPEND).slice(1));
  const acked = Date.now();
  let after = before;
  while (Date.now() - acked < 5000) {
    after = await page.locator("#journal .cmd").count();
    if (after >= before + 2) break;
    await page.waitForTimeout(50);
  }
  const took = Date.now() - acked;
  check(after === before + 2, `live page got the new commands (${before} -> ${after})`);
  check(took <= 2000, `live update within 2 s of the ack: ${took} ms`);
  console.log(`live update: ${took} ms after the writer's ack`);
  await shot("live");

  // Readable without JavaScript: the live and journal pages are complete server-side.
  const plain = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"] });
  const nctx = await plain.newContext({ javaScriptEnabled: false });
  const np = await nctx.newPage();
  await np.goto(BASE + "/live/" + process.env.LIVE_SESSION);
  check(await np.locator("#journal .cmd").count() >= after, "live page readable without JavaScript");
  await np.goto(BASE + "/replay/1");
  check(/needs JavaScript/.test(await np.locator("#player").innerText()), "replay says it needs JS");
  check(await np.locator("p.exports a[href$='/session/1.txt']").count() === 1 &&
        await np.locator("p.exports a[href$='/session/1.cast']").count() === 1,
        "replay page without JavaScript links the text and .cast exports");
  await np.screenshot({ path: path.join(ART, "live-nojs.png") });
  await plain.close();

  // Russian.
  const ru = await ctx.newPage();
  await ru.setExtraHTTPHeaders({ "Accept-Language": "ru-RU,ru;q=0.9" });
  await ru.goto(BASE + "/journal?session=1");
  check((await ru.title()).startsWith("Журнал"), "Russian page title: " + (await ru.title()));
  await ru.screenshot({ path: path.join(ART, "journal-ru.png") });
  await ru.close();

  check(errors.length === 0, "no page errors: " + errors.join("; "));
  check(dialogs.length === 0, "no dialogs at all: " + dialogs.join(","));
  await ctx.close();
  console.log(`browser.js: ${failures.length} failures`);
  process.exit(failures.length ? 1 : 0);
})().catch((e) => { console.error(e); process.exit(2); });
