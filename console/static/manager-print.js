"use strict";
// The printable daily report: /manager/reports/print?day=YYYY-MM-DD (A4, the browser's Print).
(function () {
  const $ = id => document.getElementById(id);
  const params = new URLSearchParams(location.search);
  let day = params.get("day");
  $("print").addEventListener("click", () => window.print());
  (async function () {
    try {
      const site = await reportView.site();
      day = day || (site && site.service_day) || new Date().toISOString().slice(0, 10);
      const r = await reportView.load("day=" + encodeURIComponent(day) + "&target=" + (params.get("target") || "30"));
      if (!r) return;
      $("title").textContent = (site ? site.name + " · " : "") + "日报 Daily report " + r.from;
      $("sub").textContent = (site && site.name_en ? site.name_en + " · " : "") + "目标等候 target wait " +
        r.target_minutes + " min · 打印于 printed " + new Date().toLocaleString("zh-CN", {hour12: false});
      reportView.render(r, site);
      document.body.dataset.ready = "1";
    } catch (e) {
      $("message").textContent = "无法生成报表 The report could not be made: " + e.message;
    }
  })();
})();
