// Pages that follow background work (ORG-11: a disband's progress) reload themselves
// every few seconds, as the element marked data-auto-refresh says, until the person
// stops it with the button next to it (WCAG 2.2.1: a timed refresh the person can turn
// off; the choice lasts for the tab). Without JavaScript the page offers a link instead.
(function () {
  "use strict";
  var holder = document.querySelector("[data-auto-refresh]");
  if (!holder) { return; }
  var seconds = parseInt(holder.getAttribute("data-auto-refresh"), 10) || 10;
  var toggle = holder.querySelector("[data-auto-refresh-toggle]");
  var key = "custodia-auto-refresh-off:" + window.location.pathname;
  var off = window.sessionStorage.getItem(key) === "1";
  var timer = null;
  function render() {
    if (toggle) {
      toggle.hidden = false;
      toggle.setAttribute("aria-pressed", off ? "true" : "false");
      toggle.textContent = off ? toggle.getAttribute("data-label-resume") : toggle.getAttribute("data-label-stop");
    }
  }
  function schedule() {
    if (timer) { window.clearTimeout(timer); timer = null; }
    if (!off) { timer = window.setTimeout(function () { window.location.reload(); }, seconds * 1000); }
  }
  if (toggle) {
    toggle.addEventListener("click", function () {
      off = !off;
      window.sessionStorage.setItem(key, off ? "1" : "0");
      render();
      schedule();
    });
  }
  render();
  schedule();
})();
