// ORG-7: while a roster import is being checked or written, ask its status every 2
// seconds and move the progress bar; once the job is no longer working, or starts or
// stops waiting for a worker, reload the page (once) to show the outcome or the wait. No inline script (strict CSP): the URL is in a data
// attribute.
(function () {
  "use strict";
  var panel = document.querySelector("[data-import-status-url]");
  if (!panel) { return; }
  var url = panel.getAttribute("data-import-status-url");
  var bar = panel.querySelector("[data-import-progress]");
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state) { window.setTimeout(poll, 2000); return; }
        if (!state.working || state.waiting !== panel.hasAttribute("data-waiting")) {
          window.location.reload();
          return;
        }
        if (bar && state.total_rows) { bar.max = state.total_rows; bar.value = state.processed_rows; }
        window.setTimeout(poll, 2000);
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 2000);
})();
