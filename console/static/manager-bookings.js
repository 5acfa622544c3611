"use strict";
// The manager's live page: today's bookings per slot and their check-in state (GET /api/bookings), every 30 s.
(function () {
  const STATE = {booked: "待签到 Booked", checked_in: "已签到 Checked in", late: "迟到 Late", no_show: "爽约 No-show"};

  function cell(tr, text, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
  }

  function render(day) {
    const table = document.getElementById("bookings");
    if (!table) return;
    const body = document.createElement("tbody");
    let total = 0;
    for (const slot of day.slots || []) {
      const counts = {};
      for (const b of slot.bookings) counts[b.state] = (counts[b.state] || 0) + 1;
      total += slot.bookings.length;
      const tr = document.createElement("tr");
      tr.className = "slot";
      cell(tr, slot.start.slice(11, 16) + " " + slot.business_type);
      cell(tr, slot.bookings.length + "/" + (slot.capacity == null ? "—" : slot.capacity), "n");
      cell(tr, Object.entries(counts).map(([s, n]) => (STATE[s] || s) + " " + n).join(" · "));
      body.appendChild(tr);
    }
    if (!body.children.length) {
      const tr = document.createElement("tr");
      cell(tr, "今日没有预约 No bookings today", "none");
      body.appendChild(tr);
    }
    table.replaceChildren(body);
    const pill = document.getElementById("booking-count");
    if (pill) pill.textContent = total ? String(total) : "";
  }

  async function load() {
    try {
      const r = await fetch("/api/bookings", {credentials: "same-origin"});
      if (r.ok) render(await r.json());
    } catch (e) { /* the live page says when the console is offline */ }
  }

  document.addEventListener("DOMContentLoaded", () => { load(); setInterval(load, 30000); });
})();
