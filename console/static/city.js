// The city view: every hall's live state by level (polled every 3 s), one hall's detail, city reports.
(function () {
  "use strict";
  const LEVELS = {city: "市 city", county: "县 county", township: "乡镇 township", village: "村 village",
                  hospital: "医院 hospital", pharmacy: "药店 pharmacy", bank: "银行 bank"};
  const $ = (id) => document.getElementById(id);
  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "—" : String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
  }
  async function getJSON(url) {
    const res = await fetch(url, {credentials: "same-origin"});
    const body = await res.json();
    if (!res.ok) throw new Error((body.error && body.error.message) || res.statusText);
    return body;
  }
  async function refresh() {
    try {
      const body = await getJSON("/api/city/halls");
      const tbody = $("halls").querySelector("tbody");
      tbody.textContent = "";
      for (const h of body.halls) {
        const tr = document.createElement("tr");
        tr.dataset.site = h.site;
        cell(tr, LEVELS[h.level] || h.level);
        cell(tr, h.name);
        cell(tr, h.waiting);
        cell(tr, h.longest_wait_min);
        cell(tr, h.issued_today);
        cell(tr, h.served_today);
        cell(tr, h.windows_open);
        cell(tr, h.alarms.map((a) => a.who + ": " + a.state).join("; ") || "", h.alarms.length ? "alarm" : "");
        tr.addEventListener("click", () => detail(h.site));
        tbody.appendChild(tr);
      }
      $("count").textContent = body.halls.length + " 个网点 halls";
    } catch (e) {
      $("count").textContent = "离线 offline: " + e.message;
    }
  }
  async function detail(site) {
    const body = await getJSON("/api/city/hall/" + encodeURIComponent(site));
    $("detail").hidden = false;
    $("detail-name").textContent = body.hall.name + " (" + site + ")";
    const box = $("detail-body");
    box.textContent = "";
    const lines = body.queues.map((q) => q.business_type + ": " + q.waiting + " 等候 waiting")
      .concat(body.windows.map((w) => "窗口 window " + w.window + ": " + w.state));
    for (const line of lines) {
      const div = document.createElement("div");
      div.textContent = line;
      box.appendChild(div);
    }
  }
  async function report() {
    $("report-error").hidden = true;
    try {
      const body = await getJSON("/api/city/report?by=" + $("by").value + "&period=" + $("period").value);
      const tbody = $("report").querySelector("tbody");
      tbody.textContent = "";
      for (const r of body.rows) {
        const tr = document.createElement("tr");
        cell(tr, r.period);
        cell(tr, r.name || r[body.by]);
        cell(tr, r.tickets);
        cell(tr, r.served);
        cell(tr, r.mean_wait_min);
        cell(tr, r.p90_wait_min);
        cell(tr, r.within_target_pct);
        cell(tr, r.bad_review_rate_pct);
        tbody.appendChild(tr);
      }
    } catch (e) {
      $("report-error").hidden = false;
      $("report-error").textContent = e.message;
    }
  }
  $("run-report").addEventListener("click", report);
  refresh();
  setInterval(refresh, 3000);
})();
