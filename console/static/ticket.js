"use strict";
// A citizen's ticket: its place and expected wait, live. Reads only /api/t/{this ticket}.
(function () {
  const $ = id => document.getElementById(id);
  const id = decodeURIComponent(location.pathname.split("/").pop());
  const STATES = {
    waiting: ["请耐心等候", "Please wait"], called: ["请到窗口办理", "Please go to the window"],
    serving: ["正在办理", "Being served"], held: ["已挂起：请回到窗口", "On hold: go back to the window"],
    done: ["已办结，谢谢", "Done, thank you"], missed: ["已过号", "Missed"], cancelled: ["已作废", "Cancelled"],
  };

  function show(t) {
    $("site").textContent = [t.site_name, t.site_name_en].filter(Boolean).join(" · ");
    $("number").textContent = t.number;
    $("type").textContent = [t.business_type_name, t.business_type_name_en].filter(Boolean).join(" · ");
    const words = STATES[t.state] || [t.state, ""];
    const st = $("state");
    st.className = "state " + t.state;
    st.textContent = t.state === "called" && t.window_name
      ? words[0] + "：" + t.window_name + " · " + words[1] + " " + t.window
      : words[0] + " · " + words[1];
    const waiting = t.state === "waiting";
    $("facts").hidden = !waiting;
    $("ahead").textContent = t.ahead == null ? "—" : t.ahead + " 人";
    $("wait").textContent = t.estimated_wait_min == null ? "暂无窗口 no window open yet"
                                                        : Math.round(t.estimated_wait_min) + " 分钟 min";
    $("issued").textContent = (t.called_after ? t.called_after + " 后叫号 · called after " + t.called_after + " · " : "")
      + (t.issued_time ? "取号时间 issued " + t.issued_time : "");
  }

  const es = new EventSource("/api/t/" + encodeURIComponent(id) + "/events");
  es.addEventListener("ticket", e => {
    const t = JSON.parse(e.data);
    $("live").textContent = "实时更新 Updates live";
    show(t);
    if (["done", "missed", "cancelled"].includes(t.state)) { es.close(); $("live").textContent = ""; }
  });
  es.addEventListener("offline", () => { $("live").textContent = "暂时连不上服务器 Server unreachable for now"; });
  es.addEventListener("gone", () => { es.close(); $("live").textContent = "今天的号已结束 Today's tickets have ended"; });
  es.onerror = () => { $("live").textContent = "重新连接中 Reconnecting…"; };
})();
