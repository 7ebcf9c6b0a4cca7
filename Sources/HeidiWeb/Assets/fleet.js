// The fleet page: every worker's state from the dashboard's copies, a click into one worker (its copy's events, its
// curve and log tail relayed through the worker's own connection), and the fleet timeline. No inline script (CSP).
"use strict";
(function () {
  let csrf = null, role = null, selected = null, after = 0, allow = false;
  // The selected worker's last stage, round and run (heidid's logs need a stage; a stage's log stays after it ends).
  let wstage = null, wround = null, wrun = null;
  const $ = (id) => document.getElementById(id);

  async function api(method, path) {
    const headers = {};
    if (method === "POST") { headers["Content-Type"] = "application/json"; if (csrf) headers["X-CSRF-Token"] = csrf; }
    const response = await fetch(path, { method, headers, credentials: "same-origin", body: method === "POST" ? "{}" : undefined });
    return response;
  }

  function cell(row, text, cls) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "–" : String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined) return "never";
    return seconds < 1 ? "now" : Math.round(seconds) + " s ago";
  }

  function renderWorkers(workers) {
    const body = $("workers").querySelector("tbody");
    body.replaceChildren();
    for (const w of workers) {
      const row = document.createElement("tr");
      row.dataset.worker = w.name;
      if (w.stale) row.classList.add("stale");
      if (w.fork) row.classList.add("fork");
      const name = cell(row, w.name, "name");
      name.addEventListener("click", () => open(w.name, w.allowActions));
      cell(row, w.up ? "up" : "stale", w.up ? "up" : "down");
      cell(row, w.state);
      cell(row, w.runID);
      cell(row, w.rounds ? w.round + "/" + w.rounds : w.round);
      cell(row, w.stage);
      cell(row, w.child, "child").title = w.child || "";
      cell(row, w.lastError);
      cell(row, age(w.heartbeatAge));
      cell(row, w.copySeq);
      cell(row, w.lagSeq ? w.lagSeq + " (" + w.lagSeconds.toFixed(1) + " s)" : "0");
      cell(row, w.fork ? "FORK: " + w.fork : (w.gaps ? "ok (" + w.gaps + " rewinds)" : "ok"), w.fork ? "down" : "");
      body.appendChild(row);
      if (selected === w.name) allow = w.allowActions;
    }
  }

  function renderTimeline(events) {
    const list = $("timeline");
    list.replaceChildren();
    const sorted = events.slice().sort((a, b) => (a.ts < b.ts ? 1 : a.ts > b.ts ? -1 : 0)).slice(0, 200);
    for (const e of sorted) {
      const li = document.createElement("li");
      li.className = e.level;
      li.textContent = e.ts + "  " + e.worker + "  " + e.kind + (e.seq ? " #" + e.seq : "") + "  " + e.message;
      list.appendChild(li);
    }
  }

  async function refresh() {
    try {
      const response = await api("GET", "/api/v1/fleet");
      if (response.status === 401) { $("needlogin").hidden = false; $("fleet").hidden = true; $("conn").textContent = "logged out"; return; }
      $("needlogin").hidden = true; $("fleet").hidden = false;
      renderWorkers(await response.json());
      const events = await api("GET", "/api/v1/fleet/events");
      if (events.ok) renderTimeline(await events.json());
      $("conn").textContent = "live";
      if (selected) await refreshWorker();
    } catch (error) {
      $("conn").textContent = "offline";
    }
  }

  function open(name, allowActions) {
    selected = name; after = 0; allow = allowActions; wstage = null; wround = null; wrun = null;
    $("wname").textContent = name;
    $("wevents").textContent = "";
    $("wlog").textContent = "";
    $("wresult").textContent = "";
    $("worker").hidden = false;
    refreshWorker();
  }

  async function refreshWorker() {
    const name = selected;
    const base = "/api/v1/fleet/workers/" + encodeURIComponent(name);
    $("wallow").textContent = allow ? (role === "operator" ? "this worker allows remote actions" : "actions need the operator role")
      : "this worker does not allow remote actions (web.dashboard.allow_actions)";
    for (const button of $("wactions").querySelectorAll("button")) button.disabled = !allow || role !== "operator";
    const status = await api("GET", base + "/status");
    if (status.ok) {
      const s = await status.json();
      $("wstate").textContent = s.state;
      $("wrun").textContent = (s.run_id || "–") + " · round " + s.round + " · stage " + (s.stage || "–");
      if (s.stage) { wstage = s.stage; wround = s.round; }
      if (s.run_id) wrun = s.run_id;
    }
    const journal = await api("GET", base + "/journal?after=" + after);
    if (journal.ok) {
      const text = await journal.text();
      const lines = text.split("\n").filter((l) => l.length);
      for (const line of lines) {
        try {
          const e = JSON.parse(line);
          after = Math.max(after, e.seq);
          $("wevents").textContent += e.seq + " " + e.ts + " " + e.event_type + " " + e.message + "\n";
        } catch (error) { /* not JSON: skip */ }
      }
      const pre = $("wevents");
      if (pre.textContent.length > 200000) pre.textContent = pre.textContent.slice(-100000);
    }
    if (wstage) {
      const logs = await api("GET", base + "/relay/logs?stage=" + encodeURIComponent(wstage) + (wround ? "&round=" + wround : "") + "&tail=100");
      $("wlogname").textContent = wstage + (wround ? " · round " + wround : "");
      if (logs.ok) $("wlog").textContent = await logs.text();
      else $("wlog").textContent = "(log tail unavailable: " + logs.status + ")";
    } else {
      $("wlog").textContent = "(no stage has run yet)";
    }
    const scalars = await api("GET", base + "/relay/scalars" + (wrun ? "?run_id=" + encodeURIComponent(wrun) : ""));
    if (scalars.ok) drawCurve(await scalars.json());
  }

  // heidid's scalars: {"series":[{"round":R,"points":[{"step":S,"loss":L,…}]}]}; the newest round with a loss is drawn.
  function drawCurve(data) {
    const series = ((data && data.series) || []).filter((x) => (x.points || []).some((p) => typeof p.loss === "number"));
    if (series.length === 0) { $("wloss").textContent = "no loss reported yet"; $("wline").setAttribute("points", ""); return; }
    const last = series[series.length - 1];
    const points = last.points.filter((p) => typeof p.loss === "number" && typeof p.step === "number");
    if (points.length === 0) return;
    const steps = points.map((p) => p.step), losses = points.map((p) => p.loss);
    const minX = Math.min(...steps), spanX = Math.max(...steps) - minX || 1;
    const minY = Math.min(...losses), spanY = Math.max(...losses) - minY || 1;
    $("wline").setAttribute("points", points.map((p) =>
      ((p.step - minX) / spanX * 316 + 2).toFixed(1) + "," + (78 - (p.loss - minY) / spanY * 76).toFixed(1)).join(" "));
    const end = points[points.length - 1];
    $("wloss").textContent = "round " + last.round + ", step " + end.step + ": " + end.loss.toPrecision(4);
  }

  async function act(action) {
    const response = await api("POST", "/api/v1/fleet/workers/" + encodeURIComponent(selected) + "/action/" + action);
    const text = await response.text();
    $("wresult").textContent = response.status + " " + text;
  }

  async function start() {
    const session = await api("GET", "/api/v1/session");
    if (session.ok) { const s = await session.json(); csrf = s.csrf; role = s.role; $("who").textContent = role; }
    $("wclose").addEventListener("click", () => { selected = null; $("worker").hidden = true; });
    for (const button of $("wactions").querySelectorAll("button")) button.addEventListener("click", () => act(button.dataset.action));
    await refresh();
    setInterval(refresh, 2000);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
