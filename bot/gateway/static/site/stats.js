// Statistics dashboard: copy the weekly summary to the clipboard (no inline scripts under the page CSP).
(function () {
  "use strict";
  var button = document.getElementById("copy-summary");
  var status = document.getElementById("copy-status");
  if (!button) { return; }

  function done(ok) {
    status.textContent = ok ? "已复制，可以粘贴到报告里。" : "没能自动复制，请选中文字后按 Ctrl+C。";
  }

  function fallbackCopy(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    return ok;
  }

  button.addEventListener("click", function () {
    var node = document.getElementById(button.getAttribute("data-target"));
    var text = node.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallbackCopy(node)); });
    } else {
      done(fallbackCopy(node));
    }
  });
})();
