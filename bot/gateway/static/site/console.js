/* 接警台: live assessment over a websocket (fetch as the fallback), built with textContent only.
   The draft lives in this page and in the operator's server-side session, never in localStorage
   (a shared desk computer would hand it to the next operator). */
(function () {
  "use strict";

  var LOGIN = "/console/login?next=%2Fconsole";
  var DEBOUNCE_MS = 300;

  function $(id) { return document.getElementById(id); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function percent(x) { return Math.round(x * 100) + "%"; }

  // Case page: the print button (no inline handlers under the page's CSP).
  Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (button) {
    button.addEventListener("click", function () { window.print(); });
  });

  var notes = $("notes");
  if (!notes) return;

  var channel = $("channel"), identity = $("identity"), panel = $("panel");
  var state = { notes: "", answers: {}, channel: "phone", claimed_identity: "" };
  try {
    var saved = JSON.parse($("draft-data").textContent || "{}");
    state.notes = saved.notes || "";
    state.answers = saved.answers || {};
    state.channel = saved.channel || "phone";
    state.claimed_identity = saved.claimed_identity || "";
  } catch (e) { /* no draft */ }
  notes.value = state.notes;
  channel.value = state.channel;
  identity.value = state.claimed_identity;

  // -- transport ------------------------------------------------------------------------------
  var ws = null, mode = "connecting", seq = 0, applied = 0, timer = null, wsFailures = 0;

  function setMode(next) {
    mode = next;
    var status = $("conn-status");
    status.dataset.mode = next;
    status.textContent = {
      connecting: "连接中…", live: "● 实时研判", fetch: "● 实时研判（备用通道）",
      offline: "连不上服务器，记录还在本页，请稍候", error: ""
    }[next] || "";
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var opened = false;
    try {
      ws = new WebSocket(proto + "//" + location.host + "/console/ws");
    } catch (e) {
      ws = null;
      setMode("fetch");
      send();
      return;
    }
    ws.onopen = function () { opened = true; wsFailures = 0; setMode("live"); send(); };
    ws.onmessage = function (event) {
      try { handle(JSON.parse(event.data)); } catch (e) { /* ignore a broken frame */ }
    };
    ws.onclose = function (event) {
      ws = null;
      if (event.code === 4401) { location.href = LOGIN; return; }
      wsFailures += 1;
      setMode("fetch");
      if (seq > applied || applied === 0) send();  // the last change (or the restored draft) is still unanswered
      setTimeout(connect, Math.min(30000, 2000 * wsFailures));
    };
  }

  function send() {
    var message = { seq: ++seq, notes: state.notes, answers: state.answers,
                    channel: state.channel, claimed_identity: state.claimed_identity };
    if (ws && ws.readyState === 1) {
      ws.send(JSON.stringify(message));
    } else if (mode !== "connecting") {
      viaFetch(message);
    }
  }

  function viaFetch(message) {
    fetch("/console/assess", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(message)
    }).then(function (response) {
      if (response.status === 401) { location.href = LOGIN; return null; }
      return response.json().then(function (body) {
        if (mode === "offline") setMode(ws ? "live" : "fetch");
        handle(response.ok ? { type: "verdict", seq: message.seq, view: body.view }
                           : { type: "error", seq: message.seq, error: body.error });
      });
    }).catch(function () { setMode("offline"); });
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(send, delay);
  }

  function handle(message) {
    if (message.type === "expired") { location.href = LOGIN; return; }
    if (typeof message.seq === "number") {
      if (message.seq < applied) return;  // an older answer arriving late
      applied = message.seq;
    }
    if (message.type === "error") { showError(message.error || "研判出错了，请稍后再试"); return; }
    $("save-result").hidden = $("save-result").dataset.kind !== "saved";
    render(message.view);
  }

  function showError(text) {
    var box = $("save-result");
    box.hidden = false;
    box.dataset.kind = "error";
    box.className = "alert alert-error";
    box.textContent = text;
  }

  // -- rendering ------------------------------------------------------------------------------

  function render(view) {
    panel.dataset.seq = String(applied);
    $("panel-empty").hidden = !!view;
    $("panel-body").hidden = !view;
    if (!view) {
      panel.dataset.risk = "";
      panel.dataset.type = "";
      clear($("mirror"));
      clear($("questions"));
      $("questions-empty").hidden = false;
      return;
    }
    panel.dataset.risk = view.risk.level;
    panel.dataset.type = view.type.id;
    var risk = $("risk");
    risk.className = "risk risk-" + view.risk.level;
    risk.textContent = view.risk.label;
    $("type-name").textContent = view.type.name;
    $("type-conf").textContent = "可能性 " + percent(view.type.confidence);

    var alternatives = $("alternatives");
    clear(alternatives);
    view.alternatives.forEach(function (alt, i) {
      alternatives.appendChild(el("span", "alt", (i ? "、" : "") + alt.name + " " + percent(alt.confidence)));
    });
    $("alternatives-line").hidden = view.alternatives.length === 0;

    renderChecklist(view.checklist);
    renderList($("script"), view.script, "script-line");
    renderFlags(view.red_flags);
    renderIndicators(view.indicators);
    renderQuestions(view.questions);
    renderMirror(view.mirror, view.red_flags);
  }

  function renderList(list, lines, className) {
    clear(list);
    lines.forEach(function (line) { list.appendChild(el("li", className, line)); });
  }

  function renderChecklist(checklist) {
    var box = $("checklist");
    box.hidden = !checklist;
    if (!checklist) return;
    $("checklist-title").textContent = "⚠ " + checklist.title;
    renderList($("checklist-steps"), checklist.steps, "step");
    $("evidence-title").textContent = checklist.evidence_title ? checklist.evidence_title + "：" : "";
    $("evidence").textContent = checklist.evidence.join("、");
    $("recovery-warning").textContent = checklist.warning;
  }

  function renderFlags(flags) {
    var list = $("flags");
    clear(list);
    flags.forEach(function (flag) {
      var item = el("li", "flag");
      item.dataset.flag = flag.id;
      item.appendChild(el("span", "flag-desc", flag.description));
      if (flag.quote && flag.quote !== "是") {
        item.appendChild(el("q", "flag-quote", flag.quote));
      }
      list.appendChild(item);
    });
    $("flags-empty").hidden = flags.length > 0;
  }

  function renderIndicators(indicators) {
    var list = $("indicators");
    clear(list);
    indicators.forEach(function (ind) {
      var item = el("li", "indicator" + (ind.list ? " listed-" + ind.list : ""));
      item.dataset.kind = ind.kind;
      item.appendChild(el("span", "ind-kind", ind.label));
      item.appendChild(el("span", "ind-value", ind.value));
      if (ind.list === "block") item.appendChild(el("span", "ind-tag tag-block", "已被举报" + (ind.note ? "：" + ind.note : "")));
      if (ind.list === "allow") item.appendChild(el("span", "ind-tag tag-allow", "官方号码" + (ind.note ? "：" + ind.note : "")));
      list.appendChild(item);
    });
    $("indicators-empty").hidden = indicators.length > 0;
  }

  var CHOICES = [["yes", "是"], ["no", "不是"], ["unknown", "不确定"]];

  function renderQuestions(questions) {
    var list = $("questions");
    clear(list);
    questions.forEach(function (q) {
      var item = el("li", "question state-" + q.state);
      item.dataset.question = q.id;
      item.appendChild(el("span", "q-text", q.text));
      if (q.state === "implied") {
        item.appendChild(el("span", "q-note muted small", "记录里已经说到"));
      } else {
        var group = el("span", "toggle-group");
        group.setAttribute("role", "group");
        group.setAttribute("aria-label", q.text);
        CHOICES.forEach(function (choice) {
          var pressed = (q.state === choice[0]) || (q.state === "open" && choice[0] === "unknown");
          var button = el("button", "toggle toggle-" + choice[0], choice[1]);
          button.type = "button";
          button.dataset.answer = choice[0];
          button.setAttribute("aria-pressed", pressed ? "true" : "false");
          button.addEventListener("click", function () { answer(q.id, choice[0], group, button); });
          group.appendChild(button);
        });
        item.appendChild(group);
      }
      list.appendChild(item);
    });
    $("questions-empty").hidden = questions.length > 0;
  }

  function answer(questionId, choice, group, button) {
    if (choice === "unknown") delete state.answers[questionId];
    else state.answers[questionId] = choice === "yes";
    Array.prototype.forEach.call(group.children, function (b) { b.setAttribute("aria-pressed", b === button ? "true" : "false"); });
    schedule(0);  // a tick updates the verdict at once
  }

  function renderMirror(segments, flags) {
    var mirror = $("mirror");
    var titles = {};
    flags.forEach(function (f) { titles[f.id] = f.description; });
    clear(mirror);
    segments.forEach(function (seg) {
      var node;
      if (seg.flags.length) {
        node = el("mark", "hl" + (seg.indicator ? " ind" : ""), seg.text);
        node.dataset.flags = seg.flags.join(" ");
        node.title = seg.flags.map(function (id) { return titles[id] || id; }).join("\n");
      } else if (seg.indicator) {
        node = el("span", "ind", seg.text);
      } else {
        node = document.createTextNode(seg.text);
      }
      mirror.appendChild(node);
    });
  }

  // -- inputs ---------------------------------------------------------------------------------

  notes.addEventListener("input", function () { state.notes = notes.value; schedule(DEBOUNCE_MS); });
  identity.addEventListener("input", function () { state.claimed_identity = identity.value; schedule(DEBOUNCE_MS); });
  channel.addEventListener("change", function () { state.channel = channel.value; schedule(0); });

  function resetDesk() {
    state.notes = ""; state.answers = {}; state.claimed_identity = "";
    notes.value = ""; identity.value = "";
    schedule(0);
    notes.focus();
  }

  $("new-btn").addEventListener("click", function () {
    if (state.notes.trim() && !window.confirm("清空这条记录，接下一个来电？没保存的内容会丢掉。")) return;
    $("save-result").hidden = true;
    $("save-result").dataset.kind = "";
    resetDesk();
  });

  $("save-btn").addEventListener("click", function () {
    var button = $("save-btn");
    if (!state.notes.trim()) { showError("先写下接警记录，再保存。"); return; }
    button.disabled = true;
    fetch("/console/cases", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ notes: state.notes, answers: state.answers, channel: state.channel,
                             claimed_identity: state.claimed_identity })
    }).then(function (response) {
      if (response.status === 401) { location.href = LOGIN; return null; }
      return response.json().then(function (body) {
        if (!response.ok) { showError("没保存上：" + (body.error || response.status)); return; }
        var box = $("save-result");
        clear(box);
        box.hidden = false;
        box.dataset.kind = "saved";
        box.className = "alert alert-ok";
        box.appendChild(document.createTextNode("已保存为案件 " + body.id + "。"));
        var link = el("a", "case-link", "打开案件");
        link.href = body.url;
        box.appendChild(link);
        resetDesk();
      });
    }).catch(function () {
      showError("没保存上：连不上服务器。记录还在，请稍后再点保存。");
    }).then(function () { button.disabled = false; });
  });

  setMode("connecting");
  connect();
  document.documentElement.dataset.ready = "1";
})();
