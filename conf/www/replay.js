/* lilalo replay: plays a session's asciicast v2 recording with its real timing (pauses
   longer than 2 s shortened) into a small terminal emulator: text, CR/LF/BS/TAB, cursor
   movement, erase, the alternate screen and SGR colours. Output text goes into the page
   as text nodes only, never as markup. */
(function () {
  "use strict";
  var box = document.getElementById("player");
  if (!box || !window.fetch) return;
  var cols = parseInt(box.getAttribute("data-cols"), 10) || 80;
  var rows = parseInt(box.getAttribute("data-rows"), 10) || 24;
  var params = new URLSearchParams(location.search);
  var speed = parseFloat(params.get("speed") || "1") || 1;
  var IDLE_MAX = 2.0;

  var controls = document.createElement("div");
  controls.className = "controls";
  var btn = document.createElement("button");
  btn.textContent = "▶";
  var speedSel = document.createElement("select");
  [0.5, 1, 2, 4, 16].forEach(function (s) {
    var o = document.createElement("option");
    o.value = String(s); o.textContent = s + "×"; if (s === speed) o.selected = true;
    speedSel.appendChild(o);
  });
  var clock = document.createElement("span");
  controls.append(btn, speedSel, clock);
  var screenEl = document.createElement("pre");
  screenEl.className = "screen";
  screenEl.id = "screen";
  box.append(controls, screenEl);

  /* ---- terminal model ---- */
  var grid, cx, cy, saved = null, fg = null, bold = false;
  function blankRow() { var r = []; for (var i = 0; i < cols; i++) r.push([" ", null]); return r; }
  function reset() { grid = []; for (var i = 0; i < rows; i++) grid.push(blankRow()); cx = 0; cy = 0; }
  function lineFeed() { cy++; if (cy >= rows) { grid.shift(); grid.push(blankRow()); cy = rows - 1; } }
  function put(ch) {
    if (cx >= cols) { cx = 0; lineFeed(); }
    grid[cy][cx] = [ch, fg === null && !bold ? null : (bold ? "b " : "") + (fg === null ? "" : "f" + fg)];
    cx++;
  }
  function sgr(params) {
    var p = params.length ? params.split(";") : ["0"];
    for (var i = 0; i < p.length; i++) {
      var v = parseInt(p[i] || "0", 10);
      if (v === 0) { fg = null; bold = false; }
      else if (v === 1) bold = true;
      else if (v === 22) bold = false;
      else if (v >= 30 && v <= 37) fg = v - 30;
      else if (v >= 90 && v <= 97) fg = v - 90 + 8;
      else if (v === 39) fg = null;
      else if (v === 38 || v === 48) i += (p[i + 1] === "5") ? 2 : 4;
    }
  }
  function csi(params, fin) {
    var priv = params.charAt(0) === "?";
    var ps = (priv ? params.slice(1) : params).split(";").map(function (x) { return parseInt(x, 10); });
    var n = ps[0] || 1;
    switch (fin) {
      case "m": if (!priv) sgr(params); break;
      case "A": cy = Math.max(0, cy - n); break;
      case "B": cy = Math.min(rows - 1, cy + n); break;
      case "C": cx = Math.min(cols - 1, cx + n); break;
      case "D": cx = Math.max(0, cx - n); break;
      case "G": cx = Math.min(cols - 1, n - 1); break;
      case "H": case "f": cy = Math.min(rows - 1, (ps[0] || 1) - 1); cx = Math.min(cols - 1, (ps[1] || 1) - 1); break;
      case "J":
        if (ps[0] === 2 || ps[0] === 3) { var x = cx, y = cy; reset(); cx = x; cy = y; }
        else if (!ps[0]) { for (var r = cy + 1; r < rows; r++) grid[r] = blankRow(); for (var c = cx; c < cols; c++) grid[cy][c] = [" ", null]; }
        break;
      case "K": for (var k = (ps[0] === 1 || ps[0] === 2) ? 0 : cx; k < (ps[0] === 1 ? cx + 1 : cols); k++) grid[cy][k] = [" ", null]; break;
      case "h": case "l":
        if (priv && (ps[0] === 1049 || ps[0] === 1047 || ps[0] === 47)) {
          if (fin === "h") { saved = { g: grid, x: cx, y: cy }; reset(); }
          else if (saved) { grid = saved.g; cx = saved.x; cy = saved.y; saved = null; }
        }
        break;
    }
  }
  var state = 0, buf = "";
  function feed(text) {
    for (var i = 0; i < text.length; i++) {
      var ch = text[i];
      if (state === 0) {
        if (ch === "\x1b") { state = 1; }
        else if (ch === "\r") cx = 0;
        else if (ch === "\n") lineFeed();
        else if (ch === "\b") cx = Math.max(0, cx - 1);
        else if (ch === "\t") cx = Math.min(cols - 1, (cx + 8) & ~7);
        else if (ch >= " " && ch !== "\x7f") put(ch);
      } else if (state === 1) {
        if (ch === "[") { state = 2; buf = ""; }
        else if (ch === "]" || ch === "P" || ch === "_" || ch === "^" || ch === "X") state = 3;
        else if ("()*+".indexOf(ch) >= 0) state = 4;
        else state = 0;
      } else if (state === 2) {
        if (ch >= "@" && ch <= "~") { csi(buf, ch); state = 0; }
        else if (buf.length < 64) buf += ch;
      } else if (state === 3) {
        if (ch === "\x07") state = 0;
        else if (ch === "\x1b") state = 5;
      } else if (state === 5) { state = ch === "\\" ? 0 : 3; }
      else if (state === 4) { state = 0; }
    }
  }
  function draw() {
    var frag = document.createDocumentFragment();
    for (var r = 0; r < rows; r++) {
      var run = "", cls = undefined;
      var flush = function () {
        if (!run) return;
        if (cls) { var s = document.createElement("span"); s.className = "t " + cls; s.textContent = run; frag.appendChild(s); }
        else frag.appendChild(document.createTextNode(run));
        run = "";
      };
      var row = grid[r], last = cols;
      while (last > 0 && row[last - 1][0] === " " && !row[last - 1][1]) last--;
      for (var c = 0; c < last; c++) {
        if (row[c][1] !== cls) { flush(); cls = row[c][1]; }
        run += row[c][0];
      }
      flush();
      frag.appendChild(document.createTextNode("\n"));
    }
    screenEl.replaceChildren(frag);
  }

  /* ---- playback ---- */
  var events = [], idx = 0, playing = false, timer = null, vt = 0;
  function schedule() {
    if (!playing) return;
    if (idx >= events.length) {
      playing = false; btn.textContent = "↺"; box.setAttribute("data-state", "done"); draw(); return;
    }
    var ev = events[idx];
    var wait = Math.max(0, ev.t - vt) / speed * 1000;
    timer = setTimeout(function () {
      vt = ev.t;
      feed(ev.d);
      idx++;
      // draw at most every event that is followed by a pause, and at the end
      if (idx >= events.length || events[idx].t > vt) draw();
      clock.textContent = vt.toFixed(1) + " s";
      schedule();
    }, wait);
  }
  btn.addEventListener("click", function () {
    if (playing) { playing = false; clearTimeout(timer); btn.textContent = "▶"; return; }
    if (idx >= events.length) { idx = 0; vt = 0; reset(); }
    playing = true; btn.textContent = "❚❚"; box.setAttribute("data-state", "playing"); schedule();
  });
  speedSel.addEventListener("change", function () { speed = parseFloat(speedSel.value) || 1; });

  reset(); draw();
  fetch(box.getAttribute("data-cast"), { credentials: "same-origin" })
    .then(function (r) { return r.text(); })
    .then(function (text) {
      var lines = text.split("\n"), t = 0, prev = 0;
      for (var i = 1; i < lines.length; i++) {
        if (!lines[i]) continue;
        var e;
        try { e = JSON.parse(lines[i]); } catch (x) { continue; }
        if (!Array.isArray(e) || e[1] !== "o") continue;
        t += Math.min(IDLE_MAX, Math.max(0, e[0] - prev));
        prev = e[0];
        events.push({ t: t, d: String(e[2]) });
      }
      box.setAttribute("data-events", String(events.length));
      if (params.get("autoplay") !== "0") btn.click();
    });
})();
