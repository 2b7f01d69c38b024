// Tip sheet page: the print button (no inline scripts: the page CSP allows only our own files).
(function () {
  "use strict";
  var button = document.getElementById("print-sheet");
  if (button) {
    button.addEventListener("click", function () { window.print(); });
  }
})();
