/* 骗局模拟演练 page: talks to /outreach/api/simulate/*; the rules live on the server
 * (bot.outreach.simulation). Text goes in with textContent only. */
(function () {
  "use strict";
  var D = window.Drills, $ = D.$, post = D.post, clear = D.clear, fillList = D.fillList;
  var page = D.panels(["sim-menu", "sim-play", "sim-result"], "sim-error");
  var show = page.show, fail = page.fail;
  // symbols every system font has (no colour emoji on many kiosks and projectors)
  var VERDICTS = { safe: ["✔ 安全！", "ok"], unsafe: ["✘ 不安全", "bad"], unsure: ["？拿不准", "unsure"] };
  var state = null;
  var latest = null;
  var scammer = "";

  function bubble(who, text) {
    var row = document.createElement("div");
    row.className = "bubble " + who;
    var name = document.createElement("span");
    name.className = "who";
    name.textContent = who === "scammer" ? "骗子（演练）· " + scammer : "您";
    var body = document.createElement("p");
    body.textContent = text;
    row.appendChild(name);
    row.appendChild(body);
    $("sim-dialog").appendChild(row);
    row.scrollIntoView({ block: "nearest" });
  }

  function renderStep(step) {
    $("sim-progress").textContent = "第 " + step.number + "/" + step.total + " 步";
    bubble("scammer", "“" + step.says + "”");
    var list = $("sim-options");
    clear(list);
    step.options.forEach(function (o) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "big-btn option";
      b.textContent = o.text;
      b.addEventListener("click", function () { reply({ choice: o.choice }, o.text); });
      list.appendChild(b);
    });
    $("sim-text").value = "";
    $("sim-answer").hidden = false;
    $("sim-feedback").hidden = true;
  }

  function start(type) {
    post("/outreach/api/simulate/start", { type: type }).then(function (data) {
      state = data.state;
      scammer = data.scammer;
      $("sim-title").textContent = "演练：" + data.title;
      $("sim-intro").textContent = data.intro;
      clear($("sim-dialog"));
      show("sim-play");
      renderStep(data.step);
      window.scrollTo(0, 0);
    }).catch(function (err) { fail(err.message); });
  }

  function reply(body, shown) {
    body.state = state;
    $("sim-answer").hidden = true;
    post("/outreach/api/simulate/reply", body).then(function (data) {
      state = data.state;
      latest = data;
      bubble("resident", data.said || shown);
      var r = data.reply;
      var v = VERDICTS[r.verdict] || VERDICTS.unsure;
      $("sim-verdict").textContent = v[0];
      $("sim-verdict").className = "feedback-head " + v[1];
      $("sim-feedback-text").textContent = r.feedback;
      $("sim-flag").hidden = !r.red_flag;
      $("sim-flag").textContent = r.red_flag ? "要识破的信号：" + r.red_flag : "";
      $("sim-next").textContent = r.verdict === "unsure" ? "再回一次" : (data.result ? "看结果" : "下一步");
      $("sim-feedback").hidden = false;
      $("sim-next").focus();
    }).catch(function (err) {
      $("sim-answer").hidden = false;
      fail(err.message);
    });
  }

  function next() {
    if (!latest) return;
    if (latest.reply.verdict === "unsure") {
      $("sim-feedback").hidden = true;
      $("sim-answer").hidden = false;
      $("sim-text").focus();
    } else if (latest.result) {
      renderResult(latest.result);
    } else {
      renderStep(latest.step);
    }
  }

  function renderResult(result) {
    $("sim-score").textContent = result.score + " / " + result.total;
    $("sim-level").textContent = result.level;
    $("sim-message").textContent = result.message;
    $("sim-advice-title").textContent = "遇到「" + result.type_name + "」，现在就做：";
    fillList($("sim-do-now"), result.do_now);
    fillList($("sim-never"), result.never);
    fillList($("sim-hotlines"), result.hotlines.map(function (h) {
      return "☎ " + h.name + "：" + h.number + "（" + h.when + "）";
    }));
    show("sim-result");
    window.scrollTo(0, 0);
  }

  document.querySelectorAll("#sim-types [data-type]").forEach(function (b) {
    b.addEventListener("click", function () { start(b.dataset.type); });
  });
  $("sim-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = $("sim-text").value.trim();
    if (text) reply({ text: text }, text);
  });
  $("sim-next").addEventListener("click", next);
  $("sim-again").addEventListener("click", function () { state = null; latest = null; show("sim-menu"); });
})();
