"use strict";
// The reports page: choose a day, a month or a range; see tiles, charts and tables; download CSV.
(function () {
  const $ = id => document.getElementById(id);
  const TABLES = [["summary", "汇总 Summary"], ["business_types", "业务类型 Business types"], ["items", "事项 Items"],
    ["windows", "窗口 Windows"], ["clerks", "工作人员 Clerks"], ["days", "每日 Days"], ["hours", "每小时 Hours"],
    ["ratings", "评价 Ratings"], ["followups", "回访 Follow-ups"], ["tickets", "每张号票 Every ticket"]];
  let siteInfo = null;
  const today = new Date(Date.now() - new Date().getTimezoneOffset() * 60000).toISOString().slice(0, 10);
  const params = new URLSearchParams(location.search);
  $("day").value = params.get("day") || today;
  $("month").value = params.get("month") || today.slice(0, 7);
  $("from").value = params.get("from") || today.slice(0, 8) + "01";
  $("to").value = params.get("to") || today;
  $("mode").value = params.get("month") ? "month" : (params.get("from") ? "range" : "day");

  function query() {
    const mode = $("mode").value;
    const q = new URLSearchParams();
    if (mode === "day") q.set("day", $("day").value);
    else if (mode === "month") q.set("month", $("month").value);
    else { q.set("from", $("from").value); q.set("to", $("to").value); }
    q.set("target", $("target").value || "30");
    return q;
  }

  function modeChanged() {
    const mode = $("mode").value;
    $("day-box").hidden = mode !== "day";
    $("month-box").hidden = mode !== "month";
    $("from-box").hidden = $("to-box").hidden = mode !== "range";
    $("print-link").href = "/manager/reports/print?day=" + encodeURIComponent($("day").value);
  }

  async function run() {
    $("message").textContent = "";
    const q = query();
    history.replaceState(null, "", "?" + q);
    try {
      const r = await reportView.load(q.toString());
      if (!r) return;
      $("title").textContent = "汇总 Summary · " + r.from + (r.to !== r.from ? " — " + r.to : "");
      reportView.render(r, siteInfo);
      loadAudit(q);
      const box = $("downloads");
      box.innerHTML = "";
      for (const [table, label] of TABLES) {
        const a = document.createElement("a");
        a.href = "/api/manager/report.csv?" + q + "&table=" + table;
        a.id = "csv-" + table;
        a.textContent = label + " .csv";
        box.appendChild(a);
      }
    } catch (e) {
      $("message").textContent = "无法生成报表 The report could not be made: " + e.message;
      $("report").hidden = true;
    }
  }

  const WHAT = {window_opened: "开窗 opened window", window_closed: "关窗 closed window",
    window_paused: "暂停窗口 paused window", window_resumed: "恢复窗口 resumed window",
    business_type_set: "取号开关 issuing", notice_set: "大厅屏通知 display notice", ticket_cancelled: "作废号票 cancelled",
    follow_up_assigned: "回访指派 follow-up assigned", follow_up_noted: "回访记录 follow-up note",
    follow_up_contacted: "回访已联系 follow-up contacted", follow_up_closed: "回访结案 follow-up closed"};
  async function loadAudit(q) {
    const t = $("t-audit");
    t.innerHTML = "";
    const r = await fetch("/api/manager/audit?" + q, {credentials: "same-origin"});
    if (!r.ok) return;
    const head = t.createTHead().insertRow();
    for (const h of ["时间 When", "谁 Who", "做了什么 What", "窗口/号 Window/ticket", "内容 Detail"]) {
      const th = document.createElement("th"); th.textContent = h; head.appendChild(th);
    }
    const body = t.createTBody();
    for (const a of (await r.json()).actions) {
      const row = body.insertRow();
      const detail = Object.entries(a.detail || {}).map(([k, v]) => k + "=" + v).join(" ");
      for (const text of [String(a.at).slice(0, 19).replace("T", " "), a.who, WHAT[a.what] || a.what,
                          [a.window, a.ticket].filter(x => x != null).join(" "), detail])
        row.insertCell().textContent = text;
    }
    if (!body.rows.length) body.insertRow().insertCell().textContent = "没有操作 No manager actions";
  }

  $("mode").addEventListener("change", modeChanged);
  $("day").addEventListener("change", modeChanged);
  $("report-form").addEventListener("submit", ev => { ev.preventDefault(); run(); });
  fetch("/api/me", {credentials: "same-origin"}).then(r => (r.status === 401 ? null : r.json())).then(async me => {
    if (!me) { location.href = "/login"; return; }
    $("who").textContent = (me.name || me.user) + " · " + me.role;
    siteInfo = await reportView.site();
    if (siteInfo) $("site-name").textContent = siteInfo.name;
    if (siteInfo && siteInfo.service_day && !params.get("day")) {  // the hall's service day, not the browser's
      $("day").value = siteInfo.service_day;
      if (!params.get("to")) $("to").value = siteInfo.service_day;
    }
    modeChanged();
    run();
  });
})();
