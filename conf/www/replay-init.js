/* lilalo replay: starts asciinema-player (asciinema-player/, fetched at build time by
   scripts/fetch-player) on the session's asciicast export, in #player of /replay/N
   (render/ui_export.c), with its seek bar, a speed choice and pauses longer than
   data-idle seconds shortened. ?speed=N picks the speed, ?autoplay=0 waits for a click.
   #player's data-state tells where it is: loading, ready, playing, paused, done, or
   no-player when the player's script did not load (then it says so; the text and .cast
   links below it stay). */
(function () {
  "use strict";
  var box = document.getElementById("player");
  if (!box) return;
  var params = new URLSearchParams(location.search);
  var speeds = [0.5, 1, 2, 4, 8, 16];
  var speed = parseFloat(params.get("speed") || "1");
  if (!(speed > 0 && speed <= 1000)) speed = 1;
  if (speeds.indexOf(speed) < 0) speeds.push(speed);
  speeds.sort(function (a, b) { return a - b; });
  var idle = parseFloat(box.getAttribute("data-idle") || "2");

  function state(s) { box.setAttribute("data-state", s); }

  if (!window.AsciinemaPlayer || typeof window.AsciinemaPlayer.create !== "function") {
    var p = document.createElement("p");
    p.className = "no-player";
    p.textContent = box.getAttribute("data-no-player") || "";
    box.appendChild(p);
    state("no-player");
    return;
  }

  var controls = document.createElement("p");
  controls.className = "replay-controls";
  var label = document.createElement("label");
  label.textContent = (box.getAttribute("data-speed-label") || "Speed") + " ";
  var select = document.createElement("select");
  select.id = "replay-speed";
  speeds.forEach(function (s) {
    var o = document.createElement("option");
    o.value = String(s);
    o.textContent = s + "×";
    if (s === speed) o.selected = true;
    select.appendChild(o);
  });
  label.appendChild(select);
  controls.appendChild(label);
  var stage = document.createElement("div");
  stage.className = "stage";
  box.append(controls, stage);

  var player = null;
  /* The player takes its speed once, when made: a new speed makes a new player at the
     same moment of the recording (at its start after the end), playing if the old one
     was. */
  function make(startAt, play) {
    if (player) player.dispose();
    stage.replaceChildren();
    state("loading");
    player = window.AsciinemaPlayer.create(
      { url: box.getAttribute("data-cast"), fetchOpts: { credentials: "same-origin" } },
      stage,
      {
        cols: parseInt(box.getAttribute("data-cols"), 10) || 80,
        rows: parseInt(box.getAttribute("data-rows"), 10) || 24,
        speed: speed,
        idleTimeLimit: idle > 0 ? idle : undefined,
        startAt: startAt || 0,
        autoPlay: play,
        preload: true,
        fit: "width",
      });
    var p = player;
    p.addEventListener("play", function () { if (p === player) state("playing"); });
    p.addEventListener("playing", function () { if (p === player) state("playing"); });
    p.addEventListener("pause", function () { if (p === player) state("paused"); });
    p.addEventListener("ended", function () { if (p === player) state("done"); });
    if (!play) state("ready");
  }
  select.addEventListener("change", function () {
    var s = parseFloat(select.value);
    if (!(s > 0)) return;
    var st = box.getAttribute("data-state");
    var at = player && st !== "done" ? player.getCurrentTime() : 0;
    speed = s;
    make(at, st === "playing");
  });
  make(0, params.get("autoplay") !== "0");
})();
