// REQ-7: while an export archive is being built, ask its status every 2 seconds and
// move the progress bar (or say since when it waits for a worker); when it is ready,
// show the download link. No inline script (strict CSP): the panel carries the status
// URL in a data attribute.
(function () {
  "use strict";
  var panels = document.querySelectorAll("[data-export-status-url]");
  Array.prototype.forEach.call(panels, function (panel) {
    var url = panel.getAttribute("data-export-status-url");
    var bar = panel.querySelector("[data-export-progress]");
    var text = panel.querySelector("[data-export-text]");
    var ready = panel.querySelector("[data-export-ready]");
    var expiry = panel.querySelector("[data-export-expiry]");
    var waiting = panel.querySelector("[data-export-waiting]");
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (state) {
          if (!state) { return; }
          if (bar) { bar.max = state.sections_total; bar.value = state.sections_done; }
          if (text) { text.textContent = state.percent + "% · " + state.status_label; }
          if (waiting) {
            // No live worker on the archive: say since when, instead of a frozen bar.
            waiting.textContent = state.waiting_text || "";
            waiting.hidden = !state.waiting_text;
          }
          if (state.ready) {
            if (ready) { ready.hidden = false; }
            if (expiry) { expiry.textContent = state.expires_at; }
            panel.setAttribute("data-export-status", "ready");
            return;
          }
          if (state.status === "queued" || state.status === "building") { window.setTimeout(poll, 2000); }
          else { panel.setAttribute("data-export-status", state.status); }
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    }
    if (panel.getAttribute("data-export-status") === "queued" || panel.getAttribute("data-export-status") === "building") {
      window.setTimeout(poll, 2000);
    }
  });
})();
