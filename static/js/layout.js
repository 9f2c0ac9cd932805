// The layout's only script (strict CSP: a file, never inline). It marks the document as
// scripted, so the phone menu starts closed (without JavaScript the navigation simply
// shows above the page), opens and closes that menu, and offers "back" on error pages.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("DOMContentLoaded", function () {
    // Error pages: "back to the previous page" only when there is one.
    Array.prototype.forEach.call(document.querySelectorAll("[data-history-back]"), function (button) {
      if (window.history.length < 2) { return; }
      button.hidden = false;
      button.addEventListener("click", function () { window.history.back(); });
    });
    var toggle = document.querySelector("[data-nav-toggle]");
    var panel = document.querySelector("[data-nav-panel]");
    if (!toggle || !panel) { return; }
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      document.body.classList.toggle("nav-open", open);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && document.body.classList.contains("nav-open")) {
        toggle.setAttribute("aria-expanded", "false");
        document.body.classList.remove("nav-open");
        toggle.focus();
      }
    });
  });
})();
