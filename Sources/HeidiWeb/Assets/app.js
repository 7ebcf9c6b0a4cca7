// heidi dashboard: no framework, no inline script (CSP), every text from heidid set with textContent.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const MAX_EVENTS = 200, MAX_LOG = 500, PAGE = 200;
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
    if (s.run_id && s.run_id !== runShown) { runShown = s.run_id; resetLog(null); refreshScalars(); }
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

  // The log pane: the live tail (the last MAX_LOG lines, kept in `live`), or, once earlier lines were loaded by
  // from_line, a page of at most MAX_LOG lines; live lines are then kept aside until "back to live". Every line
  // carries its number in the log (n, 0-based), so a re-sent tail is not shown twice.
  let live = [], paged = false, logKey = null, logFloor = 0;

  function logLine(entry, earlier) {
    const div = document.createElement("div");
    div.textContent = entry.line; div.dataset.n = entry.n;
    if (earlier) div.className = "earlier";
    return div;
  }

  function resetLog(stage, round) {
    live = []; paged = false; logFloor = 0; logKey = stage == null ? null : { stage, round };
    $("logname").textContent = stage == null ? "" : stage + " · round " + round; $("log").textContent = "";
    logControls();
  }

  function logControls() {
    const log = $("log"), first = log.firstChild ? Number(log.firstChild.dataset.n) : 0;
    $("logearlier").disabled = !log.firstChild || first <= logFloor;
    $("loglive").hidden = !paged;
    $("logrange").textContent = log.firstChild ? "lines " + (first + 1) + "–" + (Number(log.lastChild.dataset.n) + 1) : "";
  }

  function addLog(entry) {
    if (!logKey || logKey.stage !== entry.stage || logKey.round !== entry.round) resetLog(entry.stage, entry.round);
    const last = live.length ? live[live.length - 1].n : -1;
    if (entry.n <= last) return;
    live.push(entry);
    if (live.length > MAX_LOG) live.splice(0, live.length - MAX_LOG);
    if (paged) return;
    const log = $("log");
    log.appendChild(logLine(entry, false));
    while (log.childNodes.length > MAX_LOG) log.removeChild(log.firstChild);
    log.scrollTop = log.scrollHeight;
    logControls();
  }

  // Reads at most `max` lines of a log answer and closes it (the rest of a long log is never transferred).
  async function readLines(path, max) {
    const response = await fetch(path, { credentials: "same-origin" });
    if (response.status !== 200 || !response.body) return null;
    const first = parseInt(response.headers.get("X-Heidi-First-Line") || "0", 10);
    const reader = response.body.getReader(), decoder = new TextDecoder();
    let rest = "", lines = [], done = false;
    while (lines.length < max && !done) {
      const chunk = await reader.read();
      done = chunk.done;
      rest += done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
      const parts = rest.split("\n"); rest = parts.pop(); lines.push(...parts);
    }
    if (done && rest) lines.push(rest);
    reader.cancel().catch(() => {});
    return { first, lines: lines.slice(0, max) };
  }

  $("logearlier").addEventListener("click", async () => {
    const log = $("log");
    if (!logKey || !log.firstChild) return;
    const first = Number(log.firstChild.dataset.n), from = Math.max(logFloor, first - PAGE);
    if (from >= first) return;
    const key = logKey;
    const page = await readLines("/api/v1/logs?stage=" + encodeURIComponent(key.stage) + "&round=" + key.round + "&from_line=" + from, first - from);
    if (!page || key !== logKey || !log.firstChild || Number(log.firstChild.dataset.n) !== first) return;
    // Rotation may have left the earliest lines out: heidid says where the answer starts.
    if (page.first > from) logFloor = page.first;
    const before = log.firstChild;
    page.lines.forEach((line, i) => { if (page.first + i < first) log.insertBefore(logLine({ n: page.first + i, line }, true), before); });
    if (page.first >= first) logFloor = first;
    paged = true;
    while (log.childNodes.length > MAX_LOG) log.removeChild(log.lastChild);
    log.scrollTop = 0;
    logControls();
  });

  $("loglive").addEventListener("click", () => {
    const log = $("log");
    paged = false; log.textContent = "";
    for (const entry of live) log.appendChild(logLine(entry, false));
    log.scrollTop = log.scrollHeight;
    logControls();
  });

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
