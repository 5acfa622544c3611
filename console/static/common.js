"use strict";
// Shared by every console page: requests with the CSRF token, refusals in words, the event stream.
const ow = (function () {
  const WORDS = {
    bad_credentials: "用户名、密码或 PIN 不对 · Wrong user name, password or PIN",
    too_many_attempts: "登录失败次数过多，请五分钟后再试 · Too many failed sign-ins: wait five minutes",
    window_required: "请选择您的窗口 · Choose the window you work at",
    window_taken: "该窗口已有其他工作人员登录 · Another clerk is signed in at this window",
    hall_unavailable: "连接不到叫号服务器，操作未执行 · The queue server cannot be reached: nothing was done",
    queue_empty: "本窗口暂无等候的人 · Nobody is waiting for this window",
    recall_limit: "已达最多呼叫次数：请按“过号”或“开始办理” · Recall limit reached: mark a no-show or start",
    calls_left: "请先重呼到规定次数再按过号 · Recall the ticket before marking a no-show",
    transfer_target_closed: "转移目标窗口无人或今天无窗口办理该业务 · Nobody can take the transfer there: choose an open window or another business type",
    window_busy: "请先办结、转移或挂起当前号 · Finish, transfer or hold the current ticket first",
    window_paused: "窗口已暂停：请先恢复 · The window is paused: resume first",
    window_closed: "窗口已关闭：请重新登录 · The window is closed: sign in again",
    forbidden: "您没有在此窗口登录 · You are not signed in at this window",
    no_ticket: "当前没有叫到或办理中的号 · No ticket is called or in service here",
    not_served_here: "本窗口不办理该号的业务 · This window does not serve that ticket",
    not_held_here: "该号不在本窗口挂起 · That ticket is not held at this window",
    unknown_ticket: "今天没有这个号 · No such ticket today",
    already_rated: "这次办理已经评价过了 · This visit has already been rated",
    not_signed_in: "登录已过期，请重新登录 · Your sign-in has ended: sign in again",
  };

  function refusal(body, context) {
    const err = (body && body.error) || {};
    if (context && context.taken && err.code === "wrong_state")
      return "该号已被其他窗口叫走 · Another window has already called " + context.taken + " (" + err.message + ")";
    const words = WORDS[err.code];
    return words ? words + (err.code === "hall_unavailable" ? "" : "") : (err.message || "出错了 · Something went wrong");
  }

  async function post(url, body, csrf) {
    const headers = {"Content-Type": "application/json"};
    if (csrf) headers["X-CSRF-Token"] = csrf;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), 8000);
    try {
      const r = await fetch(url, {method: "POST", headers, body: JSON.stringify(body || {}),
                                  credentials: "same-origin", signal: ctl.signal});
      let data = {};
      try { data = await r.json(); } catch (e) { data = {}; }
      return {ok: r.ok, status: r.status, body: data};
    } catch (e) {
      return {ok: false, status: 0, body: {error: {code: "hall_unavailable", message: String(e)}}};
    } finally {
      clearTimeout(timer);
    }
  }

  // Subscribe to /api/events; handlers: snapshot(data), change(msg), broker(online), link(up), expired().
  function stream(handlers) {
    let es = null;
    function open() {
      es = new EventSource("/api/events");
      es.addEventListener("snapshot", e => { handlers.link(true); handlers.snapshot(JSON.parse(e.data)); });
      es.addEventListener("change", e => handlers.change(JSON.parse(e.data)));
      es.addEventListener("broker", e => handlers.broker(JSON.parse(e.data).online));
      es.addEventListener("expired", () => { es.close(); handlers.expired(); });
      es.onerror = () => {
        handlers.link(false);
        if (es.readyState === EventSource.CLOSED) setTimeout(open, 2000);
      };
    }
    open();
    return () => es && es.close();
  }

  return {WORDS, words: code => WORDS[code] || code, refusal, post, stream};
})();
