/* 反诈自查助手 — embed on any website with one line:
 *
 *   <script src="https://GATEWAY/widget/embed.js" defer></script>
 *
 * Adds a floating "反诈自查" button; tapping it opens the chat in an iframe
 * served by the gateway (a panel on wide screens, full screen on phones).
 * Everything it adds is styled inline and named fz-widget-*, so it does not
 * touch the host page's own styles or scripts.
 */
(function () {
  "use strict";
  if (window.__fzWidgetEmbedded) return;
  window.__fzWidgetEmbedded = true;

  var script = document.currentScript;
  if (!script) {
    var all = document.getElementsByTagName("script");
    for (var i = all.length - 1; i >= 0; i--) {
      if (/\/widget\/embed\.js(\?|#|$)/.test(all[i].src)) { script = all[i]; break; }
    }
  }
  if (!script || !script.src) return;
  var widgetUrl = new URL("../?embed=1", script.src).href;   // the gateway's root page
  var iconUrl = new URL("icon-chat.svg", script.src).href;
  var Z = 2147483000;

  function css(node, styles) {
    for (var k in styles) if (Object.prototype.hasOwnProperty.call(styles, k)) node.style[k] = styles[k];
  }

  function init() {
    var isPhone = window.matchMedia("(max-width: 600px)");
    var frame = null;
    var open = false;

    var button = document.createElement("button");
    button.type = "button";
    button.id = "fz-widget-button";
    button.setAttribute("aria-label", "打开反诈自查助手");
    button.setAttribute("aria-expanded", "false");
    css(button, {
      position: "fixed", right: "20px", bottom: "20px", zIndex: String(Z + 1),
      display: "flex", alignItems: "center", gap: "6px",
      height: "52px", padding: "0 18px 0 14px", border: "0", borderRadius: "26px",
      background: "#07C160", color: "#FFFFFF", cursor: "pointer",
      font: "600 16px/1 system-ui, -apple-system, 'PingFang SC', 'Microsoft YaHei', 'WenQuanYi Zen Hei', sans-serif",
      boxShadow: "0 4px 14px rgba(0,0,0,.25)"
    });
    var icon = document.createElement("img");
    icon.src = iconUrl;
    icon.alt = "";
    css(icon, { width: "26px", height: "26px", display: "block" });
    var label = document.createElement("span");
    label.textContent = "反诈自查";
    button.appendChild(icon);
    button.appendChild(label);

    function layout() {
      if (!frame) return;
      if (isPhone.matches) {
        css(frame, { left: "0", top: "0", right: "0", bottom: "0", width: "100%", height: "100%", borderRadius: "0" });
        button.style.display = open ? "none" : "flex";
      } else {
        css(frame, {
          left: "auto", top: "auto", right: "20px", bottom: "84px", width: "380px",
          height: "min(640px, calc(100vh - 110px))", borderRadius: "10px"
        });
        button.style.display = "flex";
      }
    }

    function setOpen(value) {
      open = value;
      if (open && !frame) {
        frame = document.createElement("iframe");
        frame.id = "fz-widget-frame";
        frame.title = "反诈自查助手";
        frame.src = widgetUrl;
        frame.setAttribute("allow", "clipboard-write");
        css(frame, {
          position: "fixed", zIndex: String(Z), border: "0", background: "#EDEDED",
          boxShadow: "0 8px 30px rgba(0,0,0,.25)"
        });
        document.body.appendChild(frame);
      }
      if (frame) frame.style.display = open ? "block" : "none";
      label.textContent = open ? "收起" : "反诈自查";
      button.setAttribute("aria-expanded", open ? "true" : "false");
      button.setAttribute("aria-label", open ? "收起反诈自查助手" : "打开反诈自查助手");
      layout();
    }

    button.addEventListener("click", function () { setOpen(!open); });
    window.addEventListener("message", function (e) {
      // Only the widget's own frame may close it.
      if (!frame || e.source !== frame.contentWindow) return;
      if (e.data && e.data.source === "fz-widget" && e.data.type === "close") setOpen(false);
    });
    if (isPhone.addEventListener) isPhone.addEventListener("change", layout);
    else if (isPhone.addListener) isPhone.addListener(layout);
    document.body.appendChild(button);
  }

  if (document.body) init();
  else document.addEventListener("DOMContentLoaded", init);
})();
