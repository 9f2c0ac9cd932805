// The layout's only script (strict CSP: a file, never inline). It marks the document as
// scripted, so the phone menu starts closed (without JavaScript the navigation simply
// shows above the page), opens and closes that menu, lets the keyboard scroll wide
// tables, and offers "back" on error pages.
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
    // A table wider than the screen scrolls inside its frame; keyboard users reach that
    // scroll too (the frame takes the focus only while it actually scrolls).
    var wraps = document.querySelectorAll(".table-wrap");
    function focusableWhenScrolling() {
      Array.prototype.forEach.call(wraps, function (wrap) {
        if (wrap.scrollWidth > wrap.clientWidth) { wrap.setAttribute("tabindex", "0"); }
        else { wrap.removeAttribute("tabindex"); }
      });
    }
    if (wraps.length) {
      focusableWhenScrolling();
      window.addEventListener("resize", focusableWhenScrolling);
    }
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
