/* 反诈自查助手 — the residents' chat widget.
 *
 * Talks to POST api/v1/chat ({sender, message} → [{text, buttons?, custom?}]).
 * A picture (the 图片 button, or pasted) goes to POST api/v1/assess/image first: the chat
 * shows "我看到的文字：…" (masked by the gateway) and the text read goes on into the chat
 * as if the resident had pasted it (questions, verdict, urgent steps).
 * The sender id, the visible history, the unsent draft and 长辈模式 live in
 * localStorage, so a reload keeps the conversation.
 * Safety: every text from the bot or the user goes on the page through
 * textContent / createTextNode; this file never assigns innerHTML.
 */
(function () {
  "use strict";

  var API_URL = "api/v1/chat";
  var ALERTS_URL = "api/v1/alerts";
  var SHARE_URL = "api/v1/share";
  var SHARE_TITLE = "发给家人看看";
  var STORE = "fzWidget.v1.";
  var MAX_ITEMS = 300;
  var TIME_GAP_MS = 5 * 60 * 1000;
  var REQUEST_TIMEOUT_MS = 30000;
  var IMAGE_URL = "api/v1/assess/image";
  var IMAGE_TIMEOUT_MS = 60000;
  var MAX_IMAGE_BYTES = 5 * 1024 * 1024;
  var IMAGE_TYPES = /^image\/(png|jpeg|webp)$/;
  var READING_TEXT = "正在读图片里的文字…";
  var AVATAR_BOT = "widget/avatar-bot.svg";
  var AVATAR_USER = "widget/avatar-user.svg";
  // The level names come from the server (widget/risk-labels.js, from bot.kb.RISK_LABELS).
  var RISK_NAMES = window.FZZC_RISK_LABELS || { high: "high", medium: "medium", low: "low" };
  // Only these numbers become tap-to-call links inside the bot's text. Any other
  // number in a message may be the scammer's own, so it stays plain text.
  var SAFE_NUMBERS = /(^|[^0-9])(96110|110)(?![0-9])/g;
  var WELCOME =
    "您好，我是反诈自查助手。\n" +
    "接到可疑的电话、短信，或者有人让您转账，把经过说给我听。我帮您看看是不是骗局。\n" +
    "请不要发身份证号、银行卡号、密码和验证码。";

  var els = {};
  var state = { sender: "", items: [], chain: Promise.resolve(), pending: 0, reading: 0, scrollTo: null };

  // -- storage (private mode or a full quota must not break the chat) ---------
  function load(key, fallback) {
    try {
      var raw = window.localStorage.getItem(STORE + key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) {
      return fallback;
    }
  }
  function save(key, value) {
    try {
      window.localStorage.setItem(STORE + key, JSON.stringify(value));
    } catch (e) { /* keep working without persistence */ }
  }
  function saveItems() {
    if (state.items.length > MAX_ITEMS) state.items = state.items.slice(-MAX_ITEMS);
    save("history", state.items);
  }

  function newId() {
    if (window.crypto && window.crypto.randomUUID) return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // -- small DOM helpers -----------------------------------------------------
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function telHref(number) {
    return "tel:" + String(number).replace(/[^0-9+]/g, "");
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function formatTime(ts) {
    var d = new Date(ts), now = new Date();
    var hm = pad(d.getHours()) + ":" + pad(d.getMinutes());
    var startOfToday = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
    if (ts >= startOfToday) return hm;
    if (ts >= startOfToday - 86400000) return "昨天 " + hm;
    if (d.getFullYear() === now.getFullYear()) return (d.getMonth() + 1) + "月" + d.getDate() + "日 " + hm;
    return d.getFullYear() + "年" + (d.getMonth() + 1) + "月" + d.getDate() + "日 " + hm;
  }

  // The bot's text as text nodes, with 96110 / 110 as tap-to-call links.
  function fillText(node, text) {
    text = String(text || "");
    var last = 0, match;
    SAFE_NUMBERS.lastIndex = 0;
    while ((match = SAFE_NUMBERS.exec(text)) !== null) {
      var start = match.index + match[1].length;
      node.appendChild(document.createTextNode(text.slice(last, start)));
      var link = el("a", "tel", match[2]);
      link.href = telHref(match[2]);
      node.appendChild(link);
      last = start + match[2].length;
    }
    node.appendChild(document.createTextNode(text.slice(last)));
  }

  function avatar(who) {
    var img = el("img", "avatar");
    img.src = who === "user" ? AVATAR_USER : AVATAR_BOT;
    img.alt = who === "user" ? "我" : "反诈助手";
    img.width = 40;
    img.height = 40;
    return img;
  }

  function row(who) {
    var r = el("div", "row " + (who === "user" ? "out" : "in"));
    r.appendChild(avatar(who));
    var wrap = el("div", "bubble-wrap");
    r.appendChild(wrap);
    return { row: r, wrap: wrap };
  }

  // -- rendering -------------------------------------------------------------
  // "发给家人看看": a page with the verdict and nothing the resident wrote (POST api/v1/share).
  // The links are resolved against the widget's own address, so a path prefix still works.
  function shareLink(path) {
    return new URL("." + path, document.baseURI).href;
  }

  function renderShare(item) {
    var box = el("div", "share-box");
    var btn = el("button", "share-btn", SHARE_TITLE);
    btn.type = "button";
    box.appendChild(btn);
    var out = el("div", "share-result");
    box.appendChild(out);
    function show(share) {
      out.textContent = "";
      var url = shareLink(share.url);
      out.appendChild(el("div", "share-hint", "把这个链接发到家人群里（七天内有效，不含您写的内容）："));
      var link = el("a", "share-link", url);
      link.href = url;
      link.target = "_blank";
      link.rel = "noopener noreferrer";
      out.appendChild(link);
      var actions = el("div", "share-actions");
      var copy = el("button", "share-copy", "复制链接");
      copy.type = "button";
      copy.addEventListener("click", function () {
        var done = function () { copy.textContent = "已复制，去微信粘贴"; };
        if (navigator.clipboard && navigator.clipboard.writeText) {
          navigator.clipboard.writeText(url).then(done, function () { copy.textContent = "请长按链接复制"; });
        } else {
          copy.textContent = "请长按链接复制";
        }
      });
      actions.appendChild(copy);
      if (navigator.share) {
        var fwd = el("button", "share-forward", "转发");
        fwd.type = "button";
        fwd.addEventListener("click", function () {
          navigator.share({ title: "反诈提醒", text: "我用反诈自查助手查了一件事，你帮我看看：", url: url }).catch(function () {});
        });
        actions.appendChild(fwd);
      }
      var img = el("a", "share-image", "保存成图片");
      img.href = shareLink(share.image_url);
      img.setAttribute("download", "fanzha-card.png");
      actions.appendChild(img);
      out.appendChild(actions);
    }
    if (item.share && typeof item.share.url === "string") show(item.share);
    btn.addEventListener("click", function () {
      btn.disabled = true;
      btn.textContent = "正在生成…";
      fetch(SHARE_URL, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sender: state.sender }),
        credentials: "same-origin"
      }).then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.json();
      }).then(function (share) {
        item.share = { url: String(share.url), image_url: String(share.image_url || share.url + ".png") };
        saveItems();
        show(item.share);
      }).catch(function () {
        out.textContent = "";
        out.appendChild(el("div", "share-hint", "没生成出来，请过一会儿再点一次。"));
      }).then(function () {
        btn.disabled = false;
        btn.textContent = SHARE_TITLE;
      });
    });
    return box;
  }

  function renderVerdict(v, item) {
    var level = RISK_NAMES[v.risk_level] ? v.risk_level : "medium";
    var card = el("div", "bubble verdict risk-" + level);
    card.setAttribute("data-risk", level);

    var head = el("div", "verdict-head");
    head.appendChild(el("span", "verdict-icon"));
    head.appendChild(el("span", "verdict-level", RISK_NAMES[level]));
    head.appendChild(el("span", "verdict-type", v.scam_name || v.scam_type || "需要留意"));
    card.appendChild(head);

    var body = el("div", "verdict-body");
    if (v.money_lost) {
      var lost = el("div", "money-lost");
      lost.appendChild(document.createTextNode("已经转了钱：马上打 "));
      var call110 = el("a", "", "110");
      call110.href = "tel:110";
      lost.appendChild(call110);
      lost.appendChild(document.createTextNode("，再打银行客服电话止付。"));
      body.appendChild(lost);
    }
    if (typeof v.confidence === "number" && v.scam_type !== "none") {
      body.appendChild(el("div", "verdict-confidence", "把握程度：" + Math.round(v.confidence * 100) + "%"));
    }
    var flags = Array.isArray(v.red_flags) ? v.red_flags : [];
    if (flags.length) {
      body.appendChild(el("h3", "", "为什么这么说"));
      var ul = el("ul", "red-flags");
      flags.forEach(function (f) {
        var li = el("li", "red-flag", f && f.description);
        if (f && f.quote) li.appendChild(el("span", "quote", "原话：“" + f.quote + "”"));
        ul.appendChild(li);
      });
      body.appendChild(ul);
    }
    var advice = Array.isArray(v.advice) ? v.advice : [];
    if (advice.length) {
      body.appendChild(el("h3", "", "现在就做"));
      var ol = el("ol", "advice");
      advice.forEach(function (a) {
        var li = el("li");
        fillText(li, typeof a === "string" ? a : (a && a.text) || "");
        ol.appendChild(li);
      });
      body.appendChild(ol);
    }
    var hotlines = Array.isArray(v.hotlines) ? v.hotlines : [];
    if (hotlines.length) {
      body.appendChild(el("h3", "", "拿不准就打电话问"));
      var box = el("div", "hotlines");
      hotlines.forEach(function (h) {
        if (!h || !h.number) return;
        var a = el("a", "hotline");
        a.href = telHref(h.number);
        a.appendChild(el("span", "hotline-number", h.number));
        var t = el("span", "hotline-text", h.name || "");
        if (h.when) t.appendChild(el("span", "hotline-when", h.when));
        a.appendChild(t);
        box.appendChild(a);
      });
      body.appendChild(box);
    }
    if (item) body.appendChild(renderShare(item));
    card.appendChild(body);
    return card;
  }

  function renderItem(item, isLast) {
    var frag = document.createDocumentFragment();
    if (item.t === "notice") {
      var n = el("div", "notice");
      var span = el("span", "", item.text);
      if (item.retryOf) {
        var retry = el("button", "retry", "重发");
        retry.type = "button";
        retry.addEventListener("click", function () { retryItem(item.retryOf); });
        span.appendChild(retry);
      }
      n.appendChild(span);
      frag.appendChild(n);
      return frag;
    }
    var who = item.t === "user" ? "user" : "bot";
    var parts = row(who);
    parts.row.setAttribute("data-id", item.id || "");
    if (item.t === "verdict") {
      parts.row.classList.add("card");
      parts.wrap.appendChild(renderVerdict(item.verdict || {}, item));
    } else {
      var bubble = el("div", item.image ? "bubble image-msg" : "bubble");
      if (who === "bot") fillText(bubble, item.text);
      else bubble.textContent = item.text;
      parts.wrap.appendChild(bubble);
    }
    if (item.status === "unread") parts.wrap.appendChild(el("span", "kept-mark", "没读出来"));
    if (item.status === "kept") {
      // Degraded mode: the gateway answered from the knowledge base and kept the message
      // for Rasa; it goes on when the assistant is back, nothing needs retyping.
      parts.row.classList.add("kept");
      parts.wrap.appendChild(el("span", "kept-mark", "已记下，恢复后接着查"));
    }
    if (item.status === "failed") {
      parts.row.classList.add("failed");
      var mark = el("button", "failed-mark", "!");
      mark.type = "button";
      mark.title = "没发出去，点一下重发";
      mark.setAttribute("aria-label", "没发出去，点一下重发");
      mark.addEventListener("click", function () { retryItem(item.id); });
      parts.wrap.appendChild(mark);
    }
    frag.appendChild(parts.row);
    if (isLast && item.buttons && item.buttons.length && state.pending === 0) {
      var qr = el("div", "quick-replies");
      item.buttons.forEach(function (b) {
        var btn = el("button", "quick-reply", b.title);
        btn.type = "button";
        btn.addEventListener("click", function () { sendMessage(b.title, b.payload || b.title); });
        qr.appendChild(btn);
      });
      frag.appendChild(qr);
    }
    return frag;
  }

  function render() {
    var box = els.messages;
    while (box.firstChild) box.removeChild(box.firstChild);
    var lastShown = 0;
    state.items.forEach(function (item, i) {
      if (item.t !== "notice" && item.ts && item.ts - lastShown > TIME_GAP_MS) {
        var sep = el("div", "time-sep");
        sep.appendChild(el("span", "", formatTime(item.ts)));
        box.appendChild(sep);
        lastShown = item.ts;
      }
      if (item.t !== "notice" && item.ts) lastShown = Math.max(lastShown, item.ts);
      box.appendChild(renderItem(item, i === state.items.length - 1));
    });
    if (state.pending > 0 || state.reading > 0) {
      var parts = row("bot");
      parts.row.classList.add("typing");
      parts.row.setAttribute("aria-label", state.reading > 0 ? READING_TEXT : "对方正在输入");
      var b = el("div", "bubble");
      b.appendChild(el("span", "dot"));
      b.appendChild(el("span", "dot"));
      b.appendChild(el("span", "dot"));
      if (state.reading > 0) {
        parts.row.classList.add("reading");
        b.appendChild(el("span", "reading-text", READING_TEXT));
      }
      parts.wrap.appendChild(b);
      box.appendChild(parts.row);
    }
    box.scrollTop = box.scrollHeight;
    if (state.scrollTo) {
      // A new verdict card: show its first line (risk and type), not its bottom.
      var card = box.querySelector('[data-id="' + state.scrollTo + '"]');
      state.scrollTo = null;
      if (card && card.offsetTop < box.scrollTop) {
        box.scrollTop = card.offsetTop - 8;
      }
    }
  }

  // -- talking to the gateway -----------------------------------------------
  function push(item) {
    item.id = item.id || newId();
    item.ts = item.ts || Date.now();
    state.items.push(item);
    return item;
  }

  function dropNoticesFor(id) {
    state.items = state.items.filter(function (it) { return !(it.t === "notice" && it.retryOf === id); });
  }

  function errorText(status) {
    if (status === 413) return "这段话太长了，请分成几段发。";
    if (status === 429) return "发得太快了，请过一会儿再发。钱已经转出去了，马上打 110；拿不准，打 96110。";
    if (status && status >= 400 && status < 500) return "这条没发出去，请换个说法再试。";
    if (status === 429) return "发得太快了，请过一会儿再发。着急请打 96110。";
    if (status) return "助手正在启动或有点忙，这条没发出去。着急请打 96110。";
    return "网络好像断了，这条没发出去。";
  }

  function post(message) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS) : null;
    return fetch(API_URL, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: state.sender, message: message, channel: "widget" }),
      signal: controller ? controller.signal : undefined,
      credentials: "same-origin"
    }).then(function (res) {
      if (timer) clearTimeout(timer);
      if (!res.ok) {
        var err = new Error("HTTP " + res.status);
        err.status = res.status;
        throw err;
      }
      return res.json();
    }, function (err) {
      if (timer) clearTimeout(timer);
      throw err;
    });
  }

  function receive(messages) {
    (Array.isArray(messages) ? messages : []).forEach(function (m) {
      if (!m || typeof m !== "object") return;
      var verdict = m.custom && typeof m.custom === "object" ? m.custom.verdict : null;
      var buttons = Array.isArray(m.buttons)
        ? m.buttons.filter(function (b) { return b && b.title; }).map(function (b) {
            return { title: String(b.title), payload: String(b.payload || b.title) };
          })
        : [];
      if (m.text) push({ t: "bot", text: String(m.text), buttons: verdict ? [] : buttons });
      if (verdict && typeof verdict === "object") {
        state.scrollTo = push({ t: "verdict", verdict: verdict, buttons: buttons }).id;
      }
      else if (!m.text && buttons.length) push({ t: "bot", text: "请选择：", buttons: buttons });
    });
  }

  function isDegraded(messages) {
    return Array.isArray(messages) && messages.some(function (m) {
      return m && m.custom && typeof m.custom === "object" && m.custom.degraded === true;
    });
  }

  function deliver(item) {
    state.pending += 1;
    item.status = "sending";
    saveItems();
    render();
    return post(item.payload || item.text).then(function (messages) {
      var degraded = isDegraded(messages);
      item.status = degraded ? "kept" : "sent";
      // A real answer again: the messages kept in degraded mode went through with it.
      if (!degraded) state.items.forEach(function (it) { if (it.status === "kept") it.status = "sent"; });
      state.pending -= 1;
      receive(messages);
    }, function (err) {
      item.status = "failed";
      state.pending -= 1;
      push({ t: "notice", text: errorText(err && err.status), retryOf: item.id });
    }).then(function () {
      saveItems();
      render();
    });
  }

  function enqueue(item) {
    state.chain = state.chain.then(function () { return deliver(item); }).catch(function (err) {
      if (window.console) window.console.error(err);
    });
    return state.chain;
  }

  function sendMessage(text, payload) {
    text = String(text || "");
    if (!text.trim()) return;
    var item = push({ t: "user", text: text, payload: payload && payload !== text ? payload : null, status: "sending" });
    saveItems();
    render();
    enqueue(item);
  }

  function retryItem(id) {
    var item = null;
    state.items.forEach(function (it) { if (it.id === id) item = it; });
    if (!item || item.status !== "failed") return;
    dropNoticesFor(id);
    // Move the message to the end, as WeChat does when resending.
    state.items = state.items.filter(function (it) { return it !== item; });
    item.ts = Date.now();
    state.items.push(item);
    enqueue(item);
  }

  // -- pictures (screenshots) ------------------------------------------------------
  function imageErrorText(status) {
    if (status === 413) return "图片太大了（不能超过 5MB），请截一张小一点的图。";
    if (status === 415) return "只能读 PNG、JPG 或 WebP 图片。也可以把内容打出来发给我。";
    if (status === 400) return "这张图片里没读到文字。请换一张清楚的截图，或者把内容打出来。";
    if (status === 429 || status === 503) return "读图片的人有点多，请过一会儿再发。钱已经转出去了，马上打 110；拿不准，打 96110。";
    if (status) return "图片没读出来，请再试一次，或者把内容打出来。着急请打 96110。";
    return "网络好像断了，图片没发出去。";
  }

  function postImage(file) {
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, IMAGE_TIMEOUT_MS) : null;
    var form = new FormData();
    form.append("image", file, file.name || "image");
    form.append("channel", "widget");
    return fetch(IMAGE_URL, {
      method: "POST", body: form, credentials: "same-origin",
      signal: controller ? controller.signal : undefined
    }).then(function (res) {
      if (timer) clearTimeout(timer);
      if (!res.ok) {
        var err = new Error("HTTP " + res.status);
        err.status = res.status;
        throw err;
      }
      return res.json();
    }, function (err) {
      if (timer) clearTimeout(timer);
      throw err;
    });
  }

  function imageFailed(item, status) {
    item.status = "unread";
    push({ t: "notice", text: imageErrorText(status) });
    saveItems();
    render();
  }

  // Read the picture, show what was read (masked), then send the text on as if pasted.
  // The text read stays in memory only until the chat has it (item.payload is then dropped).
  function sendImage(file) {
    if (!file) return;
    var item = push({ t: "user", text: "[图片]", image: true, status: "reading" });
    if (file.size > MAX_IMAGE_BYTES) { imageFailed(item, 413); return; }
    if (file.type && !IMAGE_TYPES.test(file.type)) { imageFailed(item, 415); return; }
    state.reading += 1;
    saveItems();
    render();
    state.chain = state.chain.then(function () {
      return postImage(file).then(function (body) {
        state.reading -= 1;
        var text = body && typeof body.text === "string" ? body.text : "";
        if (!text.trim()) { imageFailed(item, 400); return; }
        var shown = typeof body.masked_text === "string" ? body.masked_text : "";
        push({ t: "bot", text: "我看到的文字：\n" + shown });
        item.payload = text;
        return deliver(item).then(function () {
          if (item.status !== "failed") { item.payload = null; saveItems(); }
        });
      }, function (err) {
        state.reading -= 1;
        imageFailed(item, err && err.status);
      });
    }).catch(function (err) {
      if (window.console) window.console.error(err);
    });
  }

  function firstImage(files) {
    for (var i = 0; files && i < files.length; i++) {
      if (files[i] && /^image\//.test(files[i].type || "")) return files[i];
    }
    return null;
  }

  // -- composer ----------------------------------------------------------------
  function autoGrow() {
    var ta = els.input;
    ta.style.height = "auto";
    var max = parseFloat(window.getComputedStyle(ta).maxHeight) || 132;
    ta.style.height = Math.min(ta.scrollHeight, max) + "px";
  }

  function syncComposer() {
    els.send.disabled = !els.input.value.trim();
    save("draft", els.input.value);
    autoGrow();
  }

  function submitInput() {
    var text = els.input.value;
    if (!text.trim()) return;
    els.input.value = "";
    syncComposer();
    sendMessage(text);
    els.input.focus();
  }

  // -- 社区预警 banner: the newest active alert, until the resident dismisses it -------
  function showAlert(alert) {
    if (!alert || typeof alert.id !== "string" || load("dismissedAlert", "") === alert.id) return;
    var banner = document.getElementById("alert-banner");
    var body = document.getElementById("alert-banner-body");
    document.getElementById("alert-banner-type").textContent = alert.scam_name ? " · " + alert.scam_name : "";
    document.getElementById("alert-banner-title").textContent = String(alert.title || "");
    var text = document.getElementById("alert-banner-text");
    text.textContent = "";
    fillText(text, alert.text);
    banner.setAttribute("data-id", alert.id);
    banner.hidden = false;
    function toggle() {
      var open = banner.classList.toggle("open");
      body.setAttribute("aria-expanded", open ? "true" : "false");
    }
    body.addEventListener("click", toggle);
    body.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); }
    });
    document.getElementById("alert-banner-close").addEventListener("click", function () {
      save("dismissedAlert", alert.id);
      banner.hidden = true;
    });
  }

  function loadAlerts() {
    if (!window.fetch) return;
    fetch(ALERTS_URL, { headers: { Accept: "application/json" } }).then(function (res) {
      return res.ok ? res.json() : null;
    }).then(function (data) {
      // Newest first (the API's order); a failed fetch only means no banner.
      if (data && Array.isArray(data.alerts) && data.alerts.length) showAlert(data.alerts[0]);
    }, function () { /* offline: the chat works without the banner */ });
  }

  // -- 长辈模式 -----------------------------------------------------------------
  function setElder(on) {
    document.body.classList.toggle("elder", !!on);
    els.elder.setAttribute("aria-pressed", on ? "true" : "false");
    save("elder", !!on);
    autoGrow();
    els.messages.scrollTop = els.messages.scrollHeight;
  }

  function welcome() {
    push({ t: "bot", text: WELCOME });
    saveItems();
  }

  function init() {
    els.messages = document.getElementById("messages");
    els.input = document.getElementById("input");
    els.send = document.getElementById("send-btn");
    els.elder = document.getElementById("elder-toggle");
    els.clear = document.getElementById("clear-btn");
    els.close = document.getElementById("close-btn");
    els.photo = document.getElementById("photo-btn");
    els.photoInput = document.getElementById("photo-input");

    state.sender = load("sender", "");
    if (typeof state.sender !== "string" || !/^web:[0-9a-zA-Z-]{8,64}$/.test(state.sender)) {
      state.sender = "web:" + newId();
      save("sender", state.sender);
    }
    var items = load("history", []);
    state.items = Array.isArray(items) ? items.filter(function (it) { return it && typeof it === "object" && it.t; }) : [];
    // A message that was on its way when the page closed did not get an answer.
    state.items.forEach(function (it) {
      if (it.t === "user" && it.status === "sending") it.status = "failed";
      if (it.t === "user" && it.status === "reading") it.status = "unread";
    });
    if (!state.items.length) welcome();

    var draft = load("draft", "");
    if (typeof draft === "string") els.input.value = draft;
    setElder(load("elder", false) === true);

    if (/(^|[?&])embed=1(&|$)/.test(window.location.search)) {
      els.close.hidden = false;
      document.querySelector(".topbar").classList.add("has-close");
      els.close.addEventListener("click", function () {
        window.parent.postMessage({ source: "fz-widget", type: "close" }, "*");
      });
    }

    els.input.addEventListener("input", syncComposer);
    els.input.addEventListener("keydown", function (e) {
      // Enter sends; Shift+Enter is a new line; Enter that confirms a pinyin
      // candidate (IME composition) must not send.
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        submitInput();
      }
    });
    els.send.addEventListener("click", submitInput);
    els.photo.addEventListener("click", function () { els.photoInput.click(); });
    els.photoInput.addEventListener("change", function () {
      var file = els.photoInput.files && els.photoInput.files[0];
      els.photoInput.value = "";  // the same picture can be chosen again
      sendImage(file);
    });
    els.input.addEventListener("paste", function (e) {
      var file = firstImage(e.clipboardData && e.clipboardData.files);
      if (!file) return;  // plain text pastes as usual
      e.preventDefault();
      sendImage(file);
    });
    els.elder.addEventListener("click", function () {
      setElder(!document.body.classList.contains("elder"));
    });
    els.clear.addEventListener("click", function () {
      if (!window.confirm("清空聊天记录，开始新的对话？")) return;
      state.items = [];
      state.sender = "web:" + newId();
      save("sender", state.sender);
      welcome();
      render();
    });
    window.addEventListener("storage", function (e) {
      if (e.key === STORE + "elder") setElder(load("elder", false) === true);
    });

    syncComposer();
    render();
    loadAlerts();
    document.documentElement.setAttribute("data-ready", "1");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
