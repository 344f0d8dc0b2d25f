/* lilalo live page: follows an open session. The page is complete without this script;
   with it, new commands are fetched from the JSON API every second (`since` cursor) and
   appended as the server rendered (and escaped) them. */
(function () {
  "use strict";
  var bar = document.getElementById("live");
  var journal = document.getElementById("journal");
  if (!bar || !journal || !window.fetch) return;
  var api = bar.getAttribute("data-api");
  var since = bar.getAttribute("data-since");
  // Commands already on the page are not appended twice.
  var seen = {};
  journal.querySelectorAll(".cmd[id]").forEach(function (e) { seen[e.id] = true; });
  var busy = false;
  function target() {
    var sections = journal.querySelectorAll("section.session");
    if (sections.length) return sections[sections.length - 1];
    var empty = journal.querySelector(".empty");
    if (empty) empty.remove();
    return journal;
  }
  function poll() {
    if (busy) return;
    busy = true;
    fetch(api + "&since=" + encodeURIComponent(since), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) return false;
        var t = target();
        data.commands.forEach(function (c) {
          if (seen["c" + c.id]) return;
          seen["c" + c.id] = true;
          t.insertAdjacentHTML("beforeend", c.html);
        });
        if (data.commands.length) {
          since = String(data.next);
          bar.setAttribute("data-since", since);
          bar.setAttribute("data-updated", String(Date.now()));
        }
        // An answer stops at the API's byte budget: when it says there is more, fetch
        // the rest at once instead of a second later.
        return data.more === true && data.commands.length > 0;
      })
      .catch(function () { /* render restarting: try again next tick */ return false; })
      .then(function (again) {
        busy = false;
        if (again) poll();
      });
  }
  setInterval(poll, 1000);
  poll();
})();
