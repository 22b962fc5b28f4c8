/* Catalog pages (Food lens): the nutrient range sliders show their values as they move, and a
   minimum never passes its maximum. No inline scripts (CSP script-src 'self'). */
(function () {
  "use strict";

  function show(input) {
    var out = document.getElementById(input.getAttribute("data-output"));
    if (!out) return;
    var end = input.getAttribute("data-open-end");
    out.textContent = end !== null && input.value === end ? input.value + "+" : input.value;
  }

  function keepOrder(input) {
    var box = input.closest("[data-slider]");
    if (!box) return;
    var ranges = box.querySelectorAll('input[type="range"]');
    if (ranges.length !== 2) return;
    var low = ranges[0], high = ranges[1];
    if (Number(low.value) > Number(high.value)) {
      if (input === low) high.value = low.value; else low.value = high.value;
      show(low); show(high);
    }
  }

  function setUp(root) {
    root.querySelectorAll("input[type=range][data-output]").forEach(function (input) {
      if (input.nunchiSlider) return;
      input.nunchiSlider = true;
      show(input);
      input.addEventListener("input", function () { keepOrder(input); show(input); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:load", function (e) { setUp(e.target); });
})();
