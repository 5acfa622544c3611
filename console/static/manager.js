"use strict";
// The manager's live hall: queues, windows, devices, alerts (all from the console's event stream), and
// control. The page decides nothing: it sends the action and shows what the queue server answers.
(function () {
  const $ = id => document.getElementById(id);
  const STATE_WORDS = {closed: "关闭 Closed", idle: "空闲 Idle", calling: "呼叫中 Calling", serving: "办理中 Serving",
                       rating: "待评价 Rating", paused: "暂停 Paused"};
  const PART_WORDS = {ok: ["正常 OK", "paper-ok"], paper_low: ["纸将用尽 Paper low", "paper-warn"],
                      paper_out: ["缺纸 Out of paper", "paper-bad"], offline: ["离线 Offline", "paper-bad"],
                      cover_open: ["盖未关 Cover open", "paper-bad"]};
  let me = null, site = null, display = null, alerts = [];
  const windows = {}, queues = {}, presence = {}, devices = {};
  let busy = false;

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }

  let toastTimer = null;
  function show(text, bad) {
    const m = $("message");
    m.textContent = text;
    m.className = "message toast " + (bad ? "bad" : "good");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { m.textContent = ""; }, 6000);
  }

  async function act(url, body, done) {
    if (busy) return false;
    busy = true;
    document.body.classList.add("busy");
    try {
      const res = await ow.post(url, body || {}, me.csrf);
      if (res.ok) { show(done || "已执行 Done", false); return true; }
      if (res.status === 401) { location.href = "/login"; return false; }
      const code = res.body && res.body.error && res.body.error.code;
      show(code === "forbidden" && res.status === 409
        ? "服务器拒绝：本控制台无此权限 · The server refused: this console may not do this (" +
          res.body.error.message + ")"
        : ow.refusal(res.body), true);
      return false;
    } finally {
      busy = false;
      document.body.classList.remove("busy");
    }
  }

  function minutesSince(iso) {
    if (!iso) return null;
    return (Date.now() - Date.parse(iso)) / 60000;
  }

  function fmtMin(m) {
    if (m == null) return "—";
    const total = Math.max(0, Math.floor(m * 60));
    const h = Math.floor(total / 3600), mm = Math.floor((total % 3600) / 60), ss = total % 60;
    return (h ? h + ":" + String(mm).padStart(2, "0") : mm) + ":" + String(ss).padStart(2, "0");
  }

  // ---------------------------------------------------------------- queues
  function renderQueues() {
    const body = $("queues").tBodies[0];
    body.innerHTML = "";
    let total = 0;
    const types = (site && site.business_types) || Object.keys(queues).sort().map(p => ({prefix: p}));
    for (const b of types) {
      const q = queues[b.prefix];
      if (!q) continue;
      total += q.waiting || 0;
      const tr = el("tr");
      tr.dataset.prefix = b.prefix;
      tr.appendChild(el("td", "", b.prefix + " " + (q.name || "") + (q.name_en ? " · " + q.name_en : "")));
      tr.appendChild(el("td", "n waiting", q.waiting));
      const longest = el("td", "n longest");
      longest.dataset.since = q.longest_wait_since || "";
      tr.appendChild(longest);
      tr.appendChild(el("td", "n nowrap", q.estimated_wait_min == null ? "—" : Math.round(q.estimated_wait_min) + " 分 min"));
      tr.appendChild(el("td", "n", q.windows_open));
      tr.appendChild(el("td", "n", q.issued_today + (q.quota_left != null ? " / 余 " + q.quota_left : "")));
      const issuing = el("td", "nowrap" + (q.open ? "" : " closed-type"), q.open ? "取号中 " : "已停止 Stopped ");
      const btn = el("button", "write", q.open ? "停止 Stop" : "恢复 Resume");
      btn.id = "issue-" + b.prefix;
      btn.addEventListener("click", () => act("/api/manager/business_type/" + b.prefix, {open: !q.open},
        (q.open ? "已停止取号 Issuing stopped: " : "已恢复取号 Issuing resumed: ") + b.prefix));
      issuing.appendChild(btn);
      tr.appendChild(issuing);
      body.appendChild(tr);
    }
    $("total-waiting").textContent = total + " 人";
    tick();
  }

  function tick() {
    const limit = 30;
    for (const td of document.querySelectorAll("#queues td.longest")) {
      const m = minutesSince(td.dataset.since);
      td.textContent = m == null ? "—" : fmtMin(m);
      td.classList.toggle("late", m != null && m > limit);
    }
    $("clock").textContent = new Date().toLocaleTimeString("zh-CN", {hour12: false});
  }

  // ---------------------------------------------------------------- windows
  function windowButton(n, label, action, extra) {
    const b = el("button", "write", label);
    b.id = "win-" + n + "-" + action;
    b.addEventListener("click", () => {
      if (action === "open") { openDialog(n); return; }
      act("/api/manager/window/" + n + "/" + action, extra || {}, label + " · " + n);
    });
    return b;
  }

  function renderWindows() {
    const box = $("windows");
    box.innerHTML = "";
    const list = (site && site.windows) || Object.keys(windows).map(n => ({window: Number(n)}));
    for (const cfg of list) {
      const w = windows[cfg.window] || {window: cfg.window, state: "closed", name: cfg.name};
      const card = el("div", "win " + w.state);
      card.id = "window-" + cfg.window;
      const top = el("div", "top");
      top.appendChild(el("span", "name", w.name || cfg.name || ("窗口 " + cfg.window)));
      top.appendChild(el("span", "badge " + w.state, STATE_WORDS[w.state] || w.state));
      card.appendChild(top);
      card.appendChild(el("div", "ticket", w.ticket ? w.ticket.number : ""));
      let meta = w.clerk ? "工作人员 " + w.clerk : "";
      if (w.state === "paused" && w.pause_reason) meta += " · " + w.pause_reason;
      if (w.state !== "closed") meta += " · 已办 " + (w.served_today || 0);
      card.appendChild(el("div", "meta", meta));
      card.appendChild(el("div", "meta serves", "办理 " + (w.serves || cfg.serves || []).join(" ")));
      const actions = el("div", "actions write");
      if (w.state === "closed") actions.appendChild(windowButton(cfg.window, "开窗 Open", "open"));
      else {
        if (w.state === "paused") actions.appendChild(windowButton(cfg.window, "恢复 Resume", "resume"));
        else actions.appendChild(windowButton(cfg.window, "暂停 Pause", "pause", {reason: "主管暂停 paused by manager"}));
        actions.appendChild(windowButton(cfg.window, "关窗 Close", "close"));
      }
      card.appendChild(actions);
      box.appendChild(card);
    }
  }

  let openFor = null;
  function openDialog(n) {
    openFor = n;
    $("open-window").textContent = n;
    $("open-clerk").value = me.user;
    $("open-dialog").showModal();
  }
  $("open-dialog").addEventListener("close", () => {
    if ($("open-dialog").returnValue === "ok" && openFor != null)
      act("/api/manager/window/" + openFor + "/open", {clerk: $("open-clerk").value.trim()}, "已开窗 Opened · " + openFor);
  });

  // ---------------------------------------------------------------- devices
  function renderDevices() {
    const body = $("devices").tBodies[0];
    body.innerHTML = "";
    const ids = new Set([...Object.keys(presence), ...Object.keys(devices)]);
    for (const id of [...ids].sort()) {
      const p = presence[id] || {}, d = devices[id] || {};
      const tr = el("tr");
      tr.id = "device-" + id;
      const online = p.state ? p.state === "online" : null;
      tr.appendChild(el("td", "", id));
      tr.appendChild(el("td", "", p.role || d.kind || ""));
      tr.appendChild(el("td", online == null ? "nowrap" : "nowrap dot " + (online ? "on" : "off"),
                        online == null ? "" : (online ? "在线 Online" : "离线 Offline")));
      const parts = el("td");
      for (const [part, state] of Object.entries(d.parts || {})) {
        if (!String(part).startsWith("printer")) continue;
        const words = PART_WORDS[state] || [String(state), ""];
        parts.appendChild(el("span", words[1], "打印机 " + words[0] + " "));
      }
      tr.appendChild(parts);
      body.appendChild(tr);
    }
    if (!body.children.length) body.innerHTML = '<tr><td class="none">没有设备上报 No device has reported</td></tr>';
  }

  // ---------------------------------------------------------------- alerts
  function renderAlerts() {
    const list = $("alerts");
    list.innerHTML = "";
    let open = 0;
    for (const a of alerts) {
      const cleared = !a.active && !a.occurrence;
      const li = el("li", a.severity + (a.acked_by ? " acked" : "") + (cleared ? " cleared" : ""));
      li.dataset.kind = a.kind;
      li.appendChild(el("div", "text", a.text_zh));
      li.appendChild(el("div", "en", a.text_en));
      const foot = el("div", "foot");
      const since = new Date(a.since * 1000).toLocaleTimeString("zh-CN", {hour12: false});
      foot.appendChild(el("span", "", since + (cleared ? " · 已恢复 cleared" : "")));
      if (a.acked_by) foot.appendChild(el("span", "", "已确认 Acknowledged · " + a.acked_by));
      else {
        open += 1;
        const b = el("button", "write ack", "确认 Acknowledge");
        b.addEventListener("click", () => act("/api/manager/alerts/ack", {id: a.id},
                                              "已确认 Acknowledged"));
        foot.appendChild(b);
      }
      li.appendChild(foot);
      list.appendChild(li);
    }
    if (!alerts.length) list.innerHTML = '<li class="none">没有告警 No alerts</li>';
    const count = $("alert-count");
    count.textContent = open;
    count.className = "pill" + (open ? " hot" : "");
  }

  const DEADLINE = {met: "按时 met", missed: "超时 missed", running: "未到期 running"};
  function when(iso) { return iso ? String(iso).slice(5, 16).replace("T", " ") : "—"; }

  const CASE_ACTIONS = [["assign", "指派 Assign"], ["note", "记录 Note"], ["contact", "已联系 Contacted"],
                        ["close", "结案 Close"]];
  let caseFor = null;
  function caseDialog(c, action, label) {
    caseFor = {case: c.case, action, number: c.number};
    $("case-title").textContent = label + " · " + c.number;
    $("case-owner-box").hidden = action !== "assign";
    $("case-outcome-box").hidden = action !== "close";
    $("case-text-box").hidden = action === "assign";
    $("case-owner").value = c.owner || me.user;
    $("case-text").value = "";
    $("case-dialog").showModal();
  }
  $("case-dialog").addEventListener("close", async () => {
    if ($("case-dialog").returnValue !== "ok" || !caseFor) return;
    const body = {case: caseFor.case};
    if (caseFor.action === "assign") body.owner = $("case-owner").value.trim();
    else body.text = $("case-text").value.trim();
    if (caseFor.action === "close") body.outcome = $("case-outcome").value;
    if (await act("/api/manager/followups/" + caseFor.action, body, "回访已更新 Follow-up saved · " + caseFor.number))
      loadCases();
  });

  async function loadCases() {
    const r = await fetch("/api/manager/followups?days=14", {credentials: "same-origin"});
    if (!r.ok) return;
    const cases = (await r.json()).cases;
    const body = $("cases").tBodies[0];
    body.innerHTML = "";
    let open = 0;
    for (const c of cases) {
      if (c.state !== "closed") open += 1;
      const tr = el("tr");
      tr.dataset.state = c.state;
      tr.appendChild(el("td", "nowrap", c.number + " · " + c.score + " 分"));
      tr.appendChild(el("td", "nowrap", (c.window ? c.window + "号窗口 " : "") + (c.clerk || "")));
      const info = el("td", c.contact === "missed" && c.state === "open" ? "late" : "", c.state === "closed"
        ? "已结案 closed" + (c.outcome ? "：" + c.outcome : "")
        : (c.state === "contacted" ? "已联系 contacted · 结案期限 close by " + when(c.close_due) + " · " + (DEADLINE[c.close] || "")
                                   : "联系期限 contact by " + when(c.contact_due) + " · " + (DEADLINE[c.contact] || ""))
          + (c.owner ? " · 负责 " + c.owner : ""));
      if (c.state !== "closed") {
        const row = el("div", "actions write case-actions");
        for (const [action, label] of CASE_ACTIONS) {
          if (action === "contact" && c.state !== "open") continue;
          const b = el("button", "", label);
          b.dataset.action = action;
          b.addEventListener("click", () => caseDialog(c, action, label));
          row.appendChild(b);
        }
        info.appendChild(row);
      }
      tr.id = "case-" + String(c.case).replace(/[^A-Za-z0-9-]/g, "-");
      tr.appendChild(info);
      body.appendChild(tr);
    }
    if (!cases.length) body.innerHTML = '<tr><td class="none">没有回访单 No cases</td></tr>';
    $("case-count").textContent = open;
  }

  function renderNotice() {
    $("notice-now").textContent = display && display.notice ? "大厅屏通知 Notice: " + display.notice : "";
  }

  // ---------------------------------------------------------------- the stream
  function apply(key, value) {
    const [kind, id] = key;
    const store = {window: windows, queue: queues, presence: presence, device: devices}[kind];
    if (store) {
      if (value) store[id] = value; else delete store[id];
      if (kind === "window") renderWindows();
      else if (kind === "queue") renderQueues();
      else renderDevices();
    } else if (kind === "site") { site = value; $("site-name").textContent = site ? site.name : ""; renderQueues(); renderWindows(); }
    else if (kind === "display") { display = value; renderNotice(); }
    else if (kind === "alerts") {
      const before = alerts.filter(a => a.kind === "bad_rating").length;
      alerts = (value && value.alerts) || [];
      renderAlerts();
      if (alerts.filter(a => a.kind === "bad_rating").length !== before) loadCases();  // a new case
    }
  }

  function setLink(up, broker) {
    const link = $("link");
    const good = up && broker;
    link.textContent = !up ? "控制台断开 Console unreachable" : (broker ? "已连接 Connected" : "服务器断开 Broker away");
    link.className = "link " + (good ? "ok" : "bad");
    $("offline").hidden = good;
  }

  async function loadAlerts() {
    const r = await fetch("/api/manager/alerts", {credentials: "same-origin"});
    if (r.ok) { alerts = (await r.json()).alerts; renderAlerts(); }
  }

  let linkUp = true, brokerUp = true;
  function start() {
    $("who").textContent = (me.name || me.user) + " · " + me.role;
    if (me.role === "viewer") document.body.classList.add("viewer");
    ow.stream({
      snapshot: data => { brokerUp = data.broker; setLink(true, brokerUp);
                          for (const [k, v] of data.entries) apply(k, v); loadAlerts(); },
      change: msg => apply(msg.key, msg.value),
      broker: online => { brokerUp = online; setLink(linkUp, online); },
      link: up => { linkUp = up; setLink(up, brokerUp); },
      expired: () => { location.href = "/login"; },
    });
    setInterval(tick, 1000);
    loadCases();
    setInterval(loadCases, 60000);
  }

  $("notice-form").addEventListener("submit", ev => {
    ev.preventDefault();
    act("/api/manager/notice", {text: $("notice-text").value}, "通知已发布 Notice shown");
  });
  $("notice-clear").addEventListener("click", () => {
    $("notice-text").value = "";
    act("/api/manager/notice", {text: ""}, "通知已清除 Notice cleared");
  });
  $("cancel-form").addEventListener("submit", async ev => {
    ev.preventDefault();
    const n = $("cancel-number").value.trim().toUpperCase();
    if (n && await act("/api/manager/cancel", {ticket: n}, "已作废 Cancelled " + n)) $("cancel-number").value = "";
  });
  $("sign-out").addEventListener("click", async () => {
    const res = await ow.post("/api/logout", {}, me.csrf);
    if (res.ok || res.status === 401) location.href = "/login";
    else show(ow.refusal(res.body), true);
  });

  fetch("/api/me", {credentials: "same-origin"}).then(r => {
    if (r.status === 401) { location.href = "/login"; return null; }
    return r.json();
  }).then(data => {
    if (!data) return;
    me = data;
    start();
  });
})();
