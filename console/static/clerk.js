"use strict";
(function () {
  const $ = id => document.getElementById(id);
  const STATE_WORDS = {closed: "关闭 Closed", idle: "空闲 Idle", calling: "呼叫中 Calling", serving: "办理中 Serving",
                       rating: "待评价 Awaiting rating", paused: "暂停 Paused"};
  let me = null, site = null, win = null, stats = null;
  const queues = {};

  function show(text, bad) {
    const m = $("message");
    m.textContent = text;
    m.className = "message " + (bad ? "bad" : "good");
  }

  // Actions run one after another, in the order pressed (S then F quickly: start, then finish).
  let chain = Promise.resolve(), pending = 0;
  function act(action, body, context) {
    if (pending >= 3) { show("请稍候 · Please wait: the server is still answering", true); return; }
    pending++;
    document.body.classList.add("busy");
    chain = chain.then(() => run(action, body, context)).finally(() => {
      if (--pending === 0) document.body.classList.remove("busy");
    });
  }

  async function run(action, body, context) {
    try {
      const res = await ow.post("/api/clerk/" + action, body || {}, me.csrf);
      if (res.ok) {
        const t = res.body.ticket;
        const done = {call_next: "已叫 Called", call: "已叫 Called", call_back: "已叫 Called", recall: "已重呼 Recalled",
                      start: "开始办理 Serving", finish: "已办结 Finished", no_show: "过号 No-show",
                      transfer: "已转移 Transferred", hold: "已挂起 Held", pause: "已暂停 Paused",
                      resume: "已恢复 Resumed", rate: "已评价 Rated"}[action] || "OK";
        show(done + (t && t.number ? " " + t.number : ""), false);
      } else if (res.status === 401) {
        location.href = "/login";
      } else {
        show(ow.refusal(res.body, context), true);
      }
    } catch (e) {
      show(String(e), true);
    }
  }

  function renderWindow() {
    if (!win) return;
    $("window-name").textContent = win.name || ("窗口 " + win.window);
    const st = $("window-state");
    st.textContent = STATE_WORDS[win.state] || win.state;
    st.className = "badge " + win.state;
    const t = win.ticket;
    const num = $("ticket-number");
    num.textContent = t ? t.number : (win.awaiting_rating || "");
    num.className = "number" + (t ? "" : " empty");
    const since = win.since ? win.since.slice(11, 16) : "";
    const type = t ? typeName(t.business_type) + " · " : "";
    $("ticket-detail").textContent = t
      ? type + (win.state === "calling" ? "呼叫第 " + t.calls + " 次 · called " + t.calls + "×"
                                       : "办理中 · in service since " + since)
      : (win.state === "paused" ? "暂停 Paused: " + (win.pause_reason || "") + " · " + since
         : win.state === "rating" ? "等待评价 " + win.awaiting_rating + " · waiting for the rating" : "没有号 · No ticket");
    $("do-pause").innerHTML = win.state === "paused" ? "恢复 Resume <kbd>P</kbd>" : "暂停 Pause <kbd>P</kbd>";
    const held = $("held");
    held.innerHTML = "";
    for (const n of win.held || []) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.textContent = n + " 叫回 Call back";
      b.addEventListener("click", () => act("call_back", {ticket: n}));
      li.appendChild(b);
      held.appendChild(li);
    }
    if (!held.children.length) held.innerHTML = '<li class="none">没有 None</li>';
    $("served").textContent = win.served_today || 0;
    const r = $("rating");
    r.hidden = !win.awaiting_rating;
    $("rating-number").textContent = win.awaiting_rating || "";
    const has = !!t;
    for (const id of ["do-recall", "do-start", "do-no_show"]) $(id).disabled = !(win.state === "calling");
    for (const id of ["do-finish", "do-transfer", "do-hold"]) $(id).disabled = !has;
    $("do-start").disabled = win.state !== "calling";
  }

  function typeName(prefix) {
    const b = ((site && site.business_types) || []).find(x => x.prefix === prefix);
    return b ? prefix + " " + b.name : prefix;
  }

  function renderQueues() {
    const body = $("waiting").tBodies[0];
    body.innerHTML = "";
    const serves = (win && win.serves) || [];
    for (const p of serves) {
      const q = queues[p];
      const tr = document.createElement("tr");
      const name = q ? q.name : p;
      const next = q ? q.next || [] : [];
      tr.innerHTML = '<th></th><td class="count"></td><td class="next"></td>';
      tr.children[0].textContent = p + " " + name;
      tr.children[1].textContent = q ? q.waiting + " 人" : "—";
      for (const n of next) {
        const b = document.createElement("button");
        b.className = "chip";
        b.textContent = n;
        b.title = "叫这个号 Call " + n;
        b.addEventListener("click", () => act("call", {ticket: n}, {taken: n}));
        tr.children[2].appendChild(b);
      }
      body.appendChild(tr);
    }
  }

  function renderStats() {
    const s = stats;
    $("average").textContent = s && s.average_service_s != null ? (s.average_service_s / 60).toFixed(1) + " 分 min" : "–";
  }

  function fillTransfer() {
    const types = $("to-type"), wins = $("to-window");
    types.length = 1; wins.length = 1;
    for (const b of (site && site.business_types) || []) types.add(new Option(b.prefix + " " + b.name, b.prefix));
    for (const w of (site && site.windows) || []) if (w.window !== me.window) wins.add(new Option(w.name, w.window));
  }

  function apply(key, value) {
    const [kind, id] = key;
    if (kind === "window" && Number(id) === me.window) { win = value; renderWindow(); renderQueues(); }
    else if (kind === "queue") { if (value) queues[id] = value; else delete queues[id]; renderQueues(); }
    else if (kind === "site") { site = value; fillTransfer(); renderWindow(); }
    else if (kind === "stats" && Number(id) === me.window) { stats = value; renderStats(); }
  }

  function setLink(up, broker) {
    const link = $("link");
    const good = up && broker;
    link.textContent = !up ? "控制台断开 Console unreachable" : (broker ? "已连接 Connected" : "服务器断开 Broker away");
    link.className = "link " + (good ? "ok" : "bad");
    $("offline").hidden = good;
  }

  let linkUp = true, brokerUp = true;
  function start() {
    $("clerk-name").textContent = (me.name || me.user) + " · " + me.user;
    ow.stream({
      snapshot: data => { brokerUp = data.broker; setLink(true, brokerUp);
                          for (const [k, v] of data.entries) apply(k, v); },
      change: msg => apply(msg.key, msg.value),
      broker: online => { brokerUp = online; setLink(linkUp, online); },
      link: up => { linkUp = up; setLink(up, brokerUp); },
      expired: () => { location.href = "/login"; },
    });
  }

  // Buttons and keys.
  // Buttons are greyed when the window's state makes them pointless, but keys always send: the
  // server decides and says why not.
  const handlers = {};
  for (const a of ["call_next", "recall", "start", "finish", "no_show", "hold"]) handlers[a] = () => act(a);
  handlers.transfer = () => {
    $("transfer-number").textContent = win && win.ticket ? win.ticket.number : "";
    $("transfer-dialog").showModal();
  };
  handlers.pause = () => {
    if (win && win.state === "paused") act("resume");
    else $("pause-dialog").showModal();
  };
  for (const a of Object.keys(handlers)) $("do-" + a).addEventListener("click", handlers[a]);
  $("transfer-dialog").addEventListener("close", () => {
    if ($("transfer-dialog").returnValue !== "ok") return;
    const body = {note: $("transfer-note").value};
    if ($("to-window").value) body.to_window = Number($("to-window").value);
    else body.to_business_type = $("to-type").value;
    $("transfer-note").value = "";
    act("transfer", body);
  });
  $("pause-dialog").addEventListener("close", () => {
    if ($("pause-dialog").returnValue === "ok") act("pause", {reason: $("pause-reason").value});
  });
  $("call-form").addEventListener("submit", ev => {
    ev.preventDefault();
    const n = $("call-number").value.trim().toUpperCase();
    if (n) act("call", {ticket: n}, {taken: n});
    $("call-number").value = "";
    $("call-number").blur();
  });
  for (const b of $("rating").querySelectorAll("button"))
    b.addEventListener("click", () => act("rate", {score: Number(b.dataset.score)}));
  $("sign-out").addEventListener("click", async () => {
    const res = await ow.post("/api/logout", {}, me.csrf);
    if (res.ok || res.status === 401) location.href = "/login";
    else show(ow.refusal(res.body), true);
  });
  document.addEventListener("keydown", ev => {
    if (ev.ctrlKey || ev.altKey || ev.metaKey || document.querySelector("dialog[open]")) return;
    if (ev.target.tagName === "INPUT" || ev.target.tagName === "SELECT") return;
    const key = ev.key.toUpperCase();
    if (key === "C") { ev.preventDefault(); $("call-number").focus(); return; }
    const btn = document.querySelector('button[data-key="' + key + '"]');
    if (btn) { ev.preventDefault(); handlers[btn.id.slice(3)](); }
  });

  fetch("/api/me", {credentials: "same-origin"}).then(r => {
    if (r.status === 401) { location.href = "/login"; return null; }
    return r.json();
  }).then(data => {
    if (!data) return;
    me = data;
    if (me.window == null) { location.href = me.home; return; }
    start();
  });
})();
