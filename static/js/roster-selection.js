// ORG-7: the roster's selection for bulk actions. Without this script every checkbox
// and button still works (the server checks the selection); with it, "select all on
// this page" works, the count is shown and the bulk buttons stay disabled until
// something is selected.
(function () {
  "use strict";
  var form = document.querySelector("[data-roster-selection]");
  if (!form) { return; }
  var all = form.querySelector("[data-select-all]");
  var boxes = form.querySelectorAll("input[name=members]");
  var count = form.querySelector("[data-selection-count]");
  var buttons = form.querySelectorAll("[data-needs-selection]");
  function update() {
    var selected = 0;
    Array.prototype.forEach.call(boxes, function (box) { if (box.checked) { selected += 1; } });
    Array.prototype.forEach.call(buttons, function (button) { button.disabled = selected === 0; });
    if (count) {
      count.textContent = selected === 0
        ? count.getAttribute("data-none")
        : count.getAttribute("data-some").replace("__count__", String(selected));
    }
    if (all) {
      all.checked = selected > 0 && selected === boxes.length;
      all.indeterminate = selected > 0 && selected < boxes.length;
    }
  }
  if (all) {
    all.addEventListener("change", function () {
      Array.prototype.forEach.call(boxes, function (box) { box.checked = all.checked; });
      update();
    });
  }
  Array.prototype.forEach.call(boxes, function (box) { box.addEventListener("change", update); });
  update();
})();
