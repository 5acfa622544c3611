"use strict";
// Draws a report (GET /api/manager/report) into the page: tiles, Chart.js charts, tables, follow-ups.
// Shared by the reports page and the printable daily report.
const reportView = (function () {
  const COLORS = ["#0b6bcb", "#2e9e4f", "#f4b400", "#c62828", "#7b61ff", "#00838f", "#8d6e63"];
  const charts = {};

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  const num = v => (v == null ? "—" : String(v));
  const pct = v => (v == null ? "—" : (v * 100).toFixed(1) + "%");

  function tiles(box, items) {
    box.innerHTML = "";
    for (const [k, v] of items) {
      const t = el("div", "tile");
      t.appendChild(el("div", "v", v));
      t.appendChild(el("div", "k", k));
      box.appendChild(t);
    }
  }

  function table(t, keyName, rows, cols) {
    t.innerHTML = "";
    const head = el("tr");
    head.appendChild(el("th", "", keyName));
    for (const [, label] of cols) head.appendChild(el("th", "n", label));
    t.appendChild(el("thead")).appendChild(head);
    const body = el("tbody");
    for (const [key, row] of Object.entries(rows)) {
      const tr = el("tr");
      tr.appendChild(el("td", "", key));
      for (const [name, , fmt] of cols) tr.appendChild(el("td", "n", (fmt || num)(row[name])));
      body.appendChild(tr);
    }
    if (!body.children.length) body.appendChild(el("tr")).appendChild(el("td", "none", "没有数据 No data"));
    t.appendChild(body);
  }

  function chart(id, config) {
    const canvas = document.getElementById(id);
    if (!canvas || typeof Chart === "undefined") return;
    if (charts[id]) charts[id].destroy();
    config.options = Object.assign({animation: false, responsive: true, maintainAspectRatio: false,
                                    plugins: {legend: {position: "bottom"}}}, config.options || {});
    charts[id] = new Chart(canvas, config);
  }

  const TYPE_COLS = [["tickets", "取号 Tickets"], ["served", "办结 Served"], ["no_shows", "过号 No-shows"],
    ["cancelled", "作废 Cancelled"], ["wait_mean_min", "等候均值 Wait mean"], ["wait_p50_min", "p50"],
    ["wait_p90_min", "p90"], ["within_target_share", "达标 Within target", pct],
    ["service_mean_min", "办理均值 Service mean"], ["service_p50_min", "p50"], ["service_p90_min", "p90"],
    ["no_show_share", "过号率 No-show share", pct], ["rating_mean", "评价 Rating"]];
  const WINDOW_COLS = [["served", "办结 Served"], ["calls", "叫号 Calls"], ["service_mean_min", "办理均值 Service mean"],
    ["service_p50_min", "p50"], ["service_p90_min", "p90"], ["rating_mean", "评价 Rating"], ["bad_ratings", "差评 Bad"]];

  function render(r, site) {
    const s = r.summary;
    const names = {};
    for (const b of (site && site.business_types) || []) names[b.prefix] = b.prefix + " " + b.name;
    tiles(document.getElementById("tiles"), [
      ["取号 Tickets", num(s.tickets)], ["办结 Served", num(s.served)],
      ["等候均值 Mean wait (min)", num(s.wait_mean_min)], ["等候 p90 (min)", num(s.wait_p90_min)],
      [r.target_minutes + " 分钟内叫号 Called within " + r.target_minutes + " min", pct(s.within_target_share)],
      ["过号率 No-show share", pct(s.no_show_share)], ["办理均值 Mean service (min)", num(s.service_mean_min)],
      ["评价均分 Mean rating", num(s.rating_mean)], ["差评 Bad ratings", num(s.bad_ratings)]]);
    const f = r.followups;
    tiles(document.getElementById("followups"), [
      ["回访单 Cases opened", num(f.opened)], ["已结案 Closed", num(f.closed)],
      ["按时联系 Contacted in time", num(f.contact_met)], ["联系超时 Contact late", num(f.contact_missed)],
      ["待联系 Contact running", num(f.contact_running)], ["联系按时率 Contact on time", pct(f.contact_met_share)],
      ["按时结案 Closed in time", num(f.close_met)], ["结案超时 Closed late", num(f.close_missed)],
      ["结案按时率 Closing on time", pct(f.close_met_share)]]);
    const a = r.appointments, abox = document.getElementById("appointments");
    if (a && abox) tiles(abox, [
      ["预约 Bookings", num(a.bookings)], ["签到 Checked in", num(a.checked_in)], ["迟到转现场 Late", num(a.late)],
      ["爽约 No-shows", num(a.no_show)], ["爽约率 No-show rate", pct(a.no_show_rate)], ["取消 Cancelled", num(a.cancelled)],
      ["预约等候均值 Booked wait (min)", num(a.booked_wait.mean_min)], ["预约等候 p90", num(a.booked_wait.p90_min)],
      ["现场等候均值 Walk-in wait (min)", num(a.walk_in_wait.mean_min)], ["现场等候 p90", num(a.walk_in_wait.p90_min)]]);
    const types = Object.fromEntries(Object.entries(r.business_types).map(([k, v]) => [names[k] || k, v]));
    table(document.getElementById("t-types"), "业务 Business type", types, TYPE_COLS);
    const items = document.getElementById("t-items");
    const itemNames = {};
    for (const i of (catalogue && catalogue.items) || []) itemNames[i.code] = i.code + " " + i.name;
    itemNames["-"] = "未选事项 No item chosen";
    const named = Object.fromEntries(Object.entries(r.items).map(([k, v]) => [itemNames[k] || k, v]));
    if (items) table(items, "事项 Item", named, TYPE_COLS.slice(0, 8));
    table(document.getElementById("t-windows"), "窗口 Window", r.windows, WINDOW_COLS);
    table(document.getElementById("t-clerks"), "工作人员 Clerk", r.clerks, WINDOW_COLS.filter(c => c[0] !== "calls"));
    const labels = Object.keys(r.business_types);
    chart("chart-types", {type: "bar", data: {labels, datasets: [
      {label: "取号 Tickets", data: labels.map(k => r.business_types[k].tickets), backgroundColor: COLORS[0]},
      {label: "办结 Served", data: labels.map(k => r.business_types[k].served), backgroundColor: COLORS[1]},
      {label: "过号 No-shows", data: labels.map(k => r.business_types[k].no_shows), backgroundColor: COLORS[3]}]}});
    chart("chart-waits", {type: "bar", data: {labels, datasets: [
      {label: "均值 mean", data: labels.map(k => r.business_types[k].wait_mean_min), backgroundColor: COLORS[0]},
      {label: "p50", data: labels.map(k => r.business_types[k].wait_p50_min), backgroundColor: COLORS[5]},
      {label: "p90", data: labels.map(k => r.business_types[k].wait_p90_min), backgroundColor: COLORS[2]}]}});
    chart("chart-services", {type: "bar", data: {labels, datasets: [
      {label: "均值 mean", data: labels.map(k => r.business_types[k].service_mean_min), backgroundColor: COLORS[1]},
      {label: "p50", data: labels.map(k => r.business_types[k].service_p50_min), backgroundColor: COLORS[5]},
      {label: "p90", data: labels.map(k => r.business_types[k].service_p90_min), backgroundColor: COLORS[2]}]}});
    const wins = Object.keys(r.windows);
    chart("chart-windows", {type: "bar", data: {labels: wins.map(w => w + "号"), datasets: [
      {label: "办结 Served", data: wins.map(w => r.windows[w].served), backgroundColor: COLORS[0]},
      {label: "叫号 Calls", data: wins.map(w => r.windows[w].calls || 0), backgroundColor: COLORS[4]}]}});
    const byDay = r.from !== r.to;
    const series = byDay ? r.days : r.hours;
    const keys = Object.keys(series);
    const title = document.getElementById("time-title");
    if (title) title.textContent = byDay ? "每日取号与等候 Tickets and mean wait per day" : "按小时取号与等候 Tickets and mean wait by hour";
    chart("chart-time", {type: "bar", data: {labels: keys.map(k => byDay ? k.slice(5) : k + ":00"), datasets: [
      {label: "取号 Tickets", data: keys.map(k => series[k].tickets), backgroundColor: COLORS[0], yAxisID: "y"},
      {label: "等候均值 Mean wait (min)", data: keys.map(k => series[k].wait_mean_min), type: "line",
       borderColor: COLORS[2], backgroundColor: COLORS[2], yAxisID: "y2"}]},
      options: {scales: {y: {beginAtZero: true}, y2: {beginAtZero: true, position: "right", grid: {drawOnChartArea: false}}}}});
    const scores = ["5", "4", "3", "2", "1"];
    chart("chart-ratings", {type: "bar", data: {labels: ["5 非常满意", "4 满意", "3 基本满意", "2 不满意", "1 非常不满意"],
      datasets: [{label: "评价数 Ratings", data: scores.map(k => r.ratings[k] || 0),
                  backgroundColor: [COLORS[1], COLORS[1], COLORS[2], COLORS[3], COLORS[3]]}]},
      options: {plugins: {legend: {display: false}}}});
    document.getElementById("report").hidden = false;
  }

  async function load(query) {
    const r = await fetch("/api/manager/report?" + query, {credentials: "same-origin"});
    if (r.status === 401) { location.href = "/login"; return null; }
    const body = await r.json();
    if (!r.ok) throw new Error((body.error && body.error.message) || "error");
    return body;
  }

  let catalogue = null;
  async function site() {
    const r = await fetch("/api/state", {credentials: "same-origin"});
    if (!r.ok) return null;
    const entries = (await r.json()).entries;
    const cat = entries.find(e => e[0][0] === "catalogue");
    catalogue = cat ? cat[1] : null;
    const entry = entries.find(e => e[0][0] === "site");
    return entry ? entry[1] : null;
  }

  return {render, load, site};
})();
