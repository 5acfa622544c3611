"use strict";
(function () {
  const form = document.getElementById("login-form");
  const select = document.getElementById("window");
  const message = document.getElementById("message");
  const secretLabel = document.getElementById("secret-label");
  const secret = document.getElementById("secret");

  fetch("/api/windows").then(r => r.json()).then(data => {
    if (data.site) document.getElementById("site-name").textContent = data.site;
    for (const w of data.windows || []) {
      const o = document.createElement("option");
      o.value = w.window; o.textContent = w.name + " (" + w.window + ")";
      select.appendChild(o);
    }
    const last = localStorage.getItem("onewindow.window");
    if (last) select.value = last;
  }).catch(() => { message.textContent = ow.words("hall_unavailable"); });

  for (const r of form.querySelectorAll("input[name=mode]")) {
    r.addEventListener("change", () => {
      const pin = form.mode.value === "pin";
      secretLabel.firstChild.textContent = pin ? "PIN " : "密码 Password ";
      secret.inputMode = pin ? "numeric" : "text";
    });
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    message.textContent = "";
    const body = {username: form.username.value.trim(), window: select.value || null};
    body[form.mode.value === "pin" ? "pin" : "password"] = secret.value;
    const res = await ow.post("/api/login", body, null);
    if (res.ok) {
      if (select.value) localStorage.setItem("onewindow.window", select.value);
      location.href = res.body.home;
    } else {
      message.textContent = ow.refusal(res.body);
      message.className = "message bad";
      secret.value = "";
      secret.focus();
    }
  });
})();
