/* 反诈小测验 page: talks to /outreach/api/quiz/*; the rules live on the server
 * (bot.outreach.quiz). Text goes in with textContent only. */
(function () {
  "use strict";
  var D = window.Drills, $ = D.$, post = D.post, clear = D.clear;
  var page = D.panels(["quiz-start", "quiz-question", "quiz-result"], "quiz-error");
  var show = page.show, fail = page.fail;
  var state = null;
  var latest = null;

  function renderQuestion(data) {
    var q = data.question;
    $("quiz-progress").textContent = "第 " + q.number + "/" + q.total + " 题";
    $("quiz-score").textContent = String(data.score);
    $("quiz-scene").textContent = q.scene;
    $("quiz-ask").textContent = q.ask;
    var list = $("quiz-options");
    clear(list);
    q.options.forEach(function (o) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "big-btn option";
      b.dataset.choice = o.choice;
      var letter = document.createElement("span");
      letter.className = "letter";
      letter.textContent = o.choice.toUpperCase();
      var text = document.createElement("span");
      text.textContent = o.text;
      b.appendChild(letter);
      b.appendChild(text);
      b.addEventListener("click", function () { answer(o.choice); });
      list.appendChild(b);
    });
    $("quiz-feedback").hidden = true;
    show("quiz-question");
    window.scrollTo(0, 0);
  }

  function start(audience, title) {
    post("/outreach/api/quiz/start", { audience: audience }).then(function (data) {
      state = data.state;
      $("quiz-title").textContent = data.title || title;
      renderQuestion(data);
    }).catch(function (err) { fail(err.message); });
  }

  function answer(choice) {
    var buttons = $("quiz-options").querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    post("/outreach/api/quiz/answer", { state: state, choice: choice }).then(function (data) {
      state = data.state;
      latest = data;
      var a = data.answer;
      buttons.forEach(function (b) {
        if (b.dataset.choice === a.correct_choice) b.classList.add("right");
        else if (b.dataset.choice === a.chosen) b.classList.add("wrong");
      });
      $("quiz-score").textContent = String(data.score);
      var head = $("quiz-verdict");
      head.className = "feedback-head " + (a.correct ? "ok" : "bad");
      head.textContent = a.correct ? "✔ 答对了！"
        : "✘ 答错了。正确答案是 " + a.correct_choice.toUpperCase() + "：" + a.correct_option;
      D.fillList($("quiz-explain"), a.explanation.lines);
      $("quiz-next").textContent = data.question ? "下一题" : "看成绩";
      $("quiz-feedback").hidden = false;
      $("quiz-next").focus();
    }).catch(function (err) {
      buttons.forEach(function (b) { b.disabled = false; });
      fail(err.message);
    });
  }

  function next() {
    if (latest && latest.question) renderQuestion(latest);
    else if (latest && latest.card) renderCard(latest.card);
  }

  function renderCard(card) {
    $("card-score").textContent = card.score + " / " + card.total;
    $("card-level").textContent = card.level;
    $("card-message").textContent = card.message;
    $("card-tip").textContent = card.tip;
    $("card-audience").textContent = card.audience_label + "题目";
    $("card-date").textContent = card.date;
    $("quiz-share").setAttribute("href", card.url);
    show("quiz-result");
    window.scrollTo(0, 0);
  }

  document.querySelectorAll("#quiz-start [data-audience]").forEach(function (b) {
    b.addEventListener("click", function () { start(b.dataset.audience, ""); });
  });
  $("quiz-next").addEventListener("click", next);
  $("quiz-again").addEventListener("click", function () { state = null; latest = null; show("quiz-start"); });
})();
