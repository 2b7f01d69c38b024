/* Shared by the drill pages (quiz.js, simulate.js; loaded before them): element look-up,
 * JSON POST that turns {"error": ...} into an Error, one-panel-at-a-time switching with an
 * error line, and list filling. Text goes in with textContent only. */
window.Drills = (function () {
  "use strict";

  function $(id) { return document.getElementById(id); }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) throw new Error(data.error || ("HTTP " + res.status));
        return data;
      });
    });
  }

  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

  function fillList(el, lines) {
    clear(el);
    lines.forEach(function (line) {
      var li = document.createElement("li");
      li.textContent = line;
      el.appendChild(li);
    });
  }

  // show(id): that panel only, error line hidden; fail(message): the error line.
  function panels(ids, errorId) {
    return {
      show: function (id) {
        ids.forEach(function (s) { $(s).hidden = s !== id; });
        $(errorId).hidden = true;
      },
      fail: function (message) {
        $(errorId).textContent = message || "出了点问题，请刷新页面再试。";
        $(errorId).hidden = false;
      }
    };
  }

  return { $: $, post: post, clear: clear, fillList: fillList, panels: panels };
})();
