// heidi dashboard: no framework, no inline script (CSP), every text from heidid set with textContent.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const MAX_EVENTS = 200, MAX_LOG = 500;
  let csrf = null, role = null, source = null, status = null, scalarTimer = null, runShown = null;

  function text(id, value) { $(id).textContent = value == null ? "–" : String(value); }

  async function api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (method === "POST") { headers["Content-Type"] = "application/json"; if (csrf) headers["X-CSRF-Token"] = csrf; }
    const response = await fetch(path, { method, headers, credentials: "same-origin", body: body ? JSON.stringify(body) : undefined });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    return { status: response.status, data };
  }

  function showLogin(message) {
    $("dash").hidden = true; $("login").hidden = false; $("logout").hidden = true;
    text("who", ""); $("loginerror").textContent = message || "";
    if (source) { source.close(); source = null; }
  }

  function showDashboard(session) {
    csrf = session.csrf; role = session.role;
    $("login").hidden = true; $("dash").hidden = false; $("logout").hidden = false;
    text("who", role);
    for (const button of document.querySelectorAll("#actions button")) button.disabled = role !== "operator";
    connect();
  }

  // Bumped by every login and logout: an answer to an older question (the session check at page load, slow on a
  // busy machine) never undoes what the user did since.
  let generation = 0;

  async function boot() {
    const asked = generation;
    const session = await api("GET", "/api/v1/session");
    if (asked !== generation) return;
    if (session.status === 200) showDashboard(session.data); else showLogin("");
  }

  $("loginform").addEventListener("submit", async (event) => {
    event.preventDefault();
    generation++;
    const answer = await api("POST", "/api/v1/login", { user: $("user").value, password: $("password").value });
    $("password").value = "";
    if (answer.status === 200) showDashboard(answer.data);
    else showLogin(answer.data && answer.data.error ? answer.data.error.message : "login failed (" + answer.status + ")");
  });

  $("logout").addEventListener("click", async () => {
    generation++;
    await api("POST", "/api/v1/logout"); csrf = null; showLogin("logged out");
  });

  for (const button of document.querySelectorAll("#actions button")) {
    button.addEventListener("click", async () => {
      const question = button.dataset.confirm;
      if (question && !window.confirm(question)) return;
      const answer = await api("POST", "/api/v1/action/" + button.dataset.action);
      const message = answer.data && answer.data.error ? answer.data.error.message : (answer.data && answer.data.outcome) || "accepted";
      $("actionresult").textContent = button.dataset.action + ": " + (answer.status === 202 ? message : answer.status + " " + message);
    });
  }

  function connect() {
    if (source) source.close();
    source = new EventSource("/api/v1/stream");
    source.onopen = () => { $("conn").textContent = "live"; $("conn").className = "pill live"; };
    source.onerror = () => { $("conn").textContent = "reconnecting"; $("conn").className = "pill"; };
    source.addEventListener("status", (e) => renderStatus(JSON.parse(e.data)));
    source.addEventListener("journal", (e) => addEvent(JSON.parse(e.data)));
    source.addEventListener("log", (e) => addLog(JSON.parse(e.data)));
  }

  function renderStatus(s) {
    status = s;
    text("state", s.state); $("state").className = "big state-" + s.state;
    const flags = [];
    if (s.paused) flags.push("paused"); if (s.pause_requested) flags.push("pause requested");
    if (s.train_now_pending) flags.push("train-now pending"); if (s.stopping) flags.push("stopping");
    text("flags", flags.join(" · "));
    text("run", s.run_id); text("round", s.run_id ? s.round + "/" + s.rounds : null); text("stage", s.stage);
    if (s.child) { text("child", "pid " + s.child.pid + " · " + Math.round(s.child.elapsed_s) + " s"); text("childstatus", s.child.status || ""); }
    else { text("child", "none"); text("childstatus", ""); }
    if (s.journal) { text("seq", s.journal.seq); text("head", s.journal.head); }
    const e = s.last_error;
    text("lasterror", e ? (e.stage || "?") + " round " + e.round + ": " + e.message + (e.exit_code != null ? " (exit " + e.exit_code + ")" : "") : "none");
    if (s.run_id && s.run_id !== runShown) { runShown = s.run_id; refreshScalars(); }
    const running = s.state !== "IDLE" && s.state !== "ERROR";
    if (running && !scalarTimer) scalarTimer = setInterval(refreshScalars, 2000);
    if (!running && scalarTimer) { clearInterval(scalarTimer); scalarTimer = null; refreshScalars(); }
  }

  function addEvent(ev) {
    const list = $("events");
    const item = document.createElement("li");
    item.value = ev.seq; item.className = ev.level;
    item.textContent = ev.ts.slice(11, 19) + " " + ev.event_type + (ev.stage ? " [" + ev.stage + "]" : "") + " " + ev.message;
    list.appendChild(item);
    while (list.children.length > MAX_EVENTS) list.removeChild(list.firstChild);
    list.scrollTop = list.scrollHeight;
  }

  function addLog(entry) {
    const log = $("log");
    const name = entry.stage + " · round " + entry.round;
    if ($("logname").textContent !== name) { $("logname").textContent = name; log.textContent = ""; }
    const line = document.createElement("div");
    line.textContent = entry.line;
    log.appendChild(line);
    while (log.childNodes.length > MAX_LOG) log.removeChild(log.firstChild);
    log.scrollTop = log.scrollHeight;
  }

  async function refreshScalars() {
    if (!status || !status.run_id) return;
    const answer = await api("GET", "/api/v1/scalars?run_id=" + encodeURIComponent(status.run_id));
    if (answer.status === 200 && answer.data) drawCurve(answer.data);
  }

  const COLORS = ["#2a7", "#36c", "#c63", "#a3a", "#aa3", "#3aa", "#c36", "#666"];

  function drawCurve(data) {
    const canvas = $("curve"), ctx = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height, pad = 36;
    ctx.clearRect(0, 0, w, h);
    const series = (data.series || []).filter((s) => s.points.some((p) => typeof p.loss === "number"));
    const legend = $("curvelegend"); legend.textContent = "";
    if (!series.length) { ctx.fillStyle = "#889"; ctx.fillText("no loss reported yet (X_HEIDI_SCALARS)", pad, h / 2); canvas.dataset.points = "0"; return; }
    let minX = Infinity, maxX = -Infinity, minY = Infinity, maxY = -Infinity, count = 0;
    for (const s of series) for (const p of s.points) if (typeof p.loss === "number") {
      minX = Math.min(minX, p.step); maxX = Math.max(maxX, p.step); minY = Math.min(minY, p.loss); maxY = Math.max(maxY, p.loss); count++;
    }
    if (maxX === minX) maxX = minX + 1; if (maxY === minY) maxY = minY + 1;
    const x = (v) => pad + (v - minX) / (maxX - minX) * (w - 2 * pad);
    const y = (v) => h - pad - (v - minY) / (maxY - minY) * (h - 2 * pad);
    ctx.strokeStyle = "#ccd"; ctx.beginPath(); ctx.moveTo(pad, pad / 2); ctx.lineTo(pad, h - pad); ctx.lineTo(w - pad / 2, h - pad); ctx.stroke();
    ctx.fillStyle = "#667"; ctx.font = "11px sans-serif";
    ctx.fillText(maxY.toPrecision(3), 2, pad); ctx.fillText(minY.toPrecision(3), 2, h - pad);
    ctx.fillText("step " + minX, pad, h - pad + 14); ctx.fillText(String(maxX), w - pad - 20, h - pad + 14);
    series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.beginPath();
      let first = true;
      for (const p of s.points) if (typeof p.loss === "number") {
        if (first) { ctx.moveTo(x(p.step), y(p.loss)); first = false; } else ctx.lineTo(x(p.step), y(p.loss));
      }
      ctx.stroke();
      const key = document.createElement("span"); key.style.color = color; key.textContent = " ■ round " + s.round;
      legend.appendChild(key);
    });
    canvas.dataset.points = String(count);
  }

  boot();
})();
