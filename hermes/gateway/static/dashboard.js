// Hermes dashboard: pending approvals, tasks with their progress, platforms, past
// sessions and cron jobs, on the same page as the chat (the "#/dashboard" view).
// Plain JS, no build step, no external resources. Everything the gateway sends goes
// into the page through textContent, never as HTML. It refreshes every 2 s while it is
// on screen and stops when it is not (the chat view, a background tab, logged out), so
// an idle page costs the gateway nothing.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const VIEW = "#/dashboard";
  const POLL_MS = 2000;
  const OPEN = new Set(["queued", "running", "waiting_approval"]);
  const STATUS_WORDS = { waiting_approval: "waiting for approval" };

  class AuthError extends Error {}

  const state = {
    timer: null, // the next scheduled refresh
    running: null, // the refresh in flight (a promise)
    again: false, // another refresh was asked for while one ran
    shown: {}, // panel -> key of what it shows: redrawn only when that changes
    deciding: new Set(), // approvals decided here, hidden until the server agrees
    sessionsTicket: 0,
  };

  // ----- small helpers ------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function button(label, className, onClick) {
    const b = el("button", className, label);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function badge(text, kind) {
    return el("span", `badge ${kind}`, text);
  }

  function words(status) {
    return STATUS_WORDS[status] || status;
  }

  function localTime(seconds) {
    // The browser's own time zone and locale: "Tue 3 Jun, 08:00".
    return new Date(seconds * 1000).toLocaleString(undefined, {
      weekday: "short",
      day: "numeric",
      month: "short",
      hour: "2-digit",
      minute: "2-digit",
    });
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString(undefined, {
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
  }

  function span(seconds) {
    const s = Math.abs(seconds);
    if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min`;
    if (s < 2 * 86400) return `${Math.round(s / 3600)} h`;
    return `${Math.round(s / 86400)} d`;
  }

  function relative(seconds) {
    const d = seconds - Date.now() / 1000;
    if (Math.abs(d) < 60) return d > 0 ? "in under a minute" : "just now";
    return d > 0 ? `in ${span(d)}` : `${span(d)} ago`;
  }

  function timeEl(seconds, className) {
    // <time datetime=ISO>local time</time>, the relative time as its tooltip
    const t = el("time", className, localTime(seconds));
    t.dateTime = new Date(seconds * 1000).toISOString();
    t.title = relative(seconds);
    return t;
  }

  function notice(message) {
    const box = $("dash-notice");
    box.textContent = message || "";
    box.hidden = !message;
  }

  // ----- HTTP ---------------------------------------------------------------------

  async function call(method, path, body) {
    const init = { method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (_) {
      throw new Error("cannot reach the gateway; is it running?");
    }
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      /* not JSON */
    }
    if (res.status === 401) {
      window.hermesChat.showLogin();
      throw new AuthError("logged out");
    }
    if (!res.ok) {
      // every error of the gateway: {"error": {"message", "type", "code"}}
      const e = data && data.error;
      throw new Error((e && e.message) || `the gateway answered HTTP ${res.status}`);
    }
    return data;
  }

  // ----- the view and its refresh loop -----------------------------------------------

  function onDashboard() {
    return location.hash === VIEW;
  }

  function visible() {
    return onDashboard() && !$("app").hidden && document.visibilityState === "visible";
  }

  function applyView() {
    const dash = onDashboard();
    $("app").classList.toggle("show-dashboard", dash);
    document.title = dash ? "Hermes · Dashboard" : "Hermes";
    if (dash && !$("app").hidden) {
      loadSessions().catch(report);
      refreshSoon(0);
    } else {
      stop();
    }
  }

  function go(hash) {
    if (location.hash !== hash) location.hash = hash;
    applyView();
  }

  function stop() {
    clearTimeout(state.timer);
    state.timer = null;
  }

  function refreshSoon(ms = 0) {
    stop();
    state.timer = setTimeout(tick, ms);
  }

  async function tick() {
    state.timer = null;
    if (!visible()) return;
    await refresh();
    if (visible() && state.timer === null) state.timer = setTimeout(tick, POLL_MS);
  }

  function refresh() {
    // One refresh at a time, so an older answer never overwrites a newer one.
    if (state.running) {
      state.again = true;
      return state.running;
    }
    state.running = (async () => {
      do {
        state.again = false;
        await load();
      } while (state.again && visible());
    })().finally(() => {
      state.running = null;
    });
    return state.running;
  }

  async function load() {
    const parts = [
      ["/api/hermes/status", drawStatus],
      ["/api/hermes/tasks", (d) => drawTasks(d.tasks)],
      ["/api/hermes/approvals", (d) => drawApprovals(d.approvals)],
      ["/api/hermes/cron", (d) => drawCron(d.jobs)],
    ];
    const results = await Promise.allSettled(parts.map(([path]) => call("GET", path)));
    let failure = null;
    results.forEach((r, i) => {
      if (r.status === "fulfilled") parts[i][1](r.value);
      else failure = failure || r.reason;
    });
    if (failure instanceof AuthError) return;
    const conn = $("dash-conn");
    conn.classList.toggle("live", !failure);
    conn.textContent = failure ? "not updating" : `updated ${clock(Date.now() / 1000)}`;
    conn.title = failure ? failure.message : "refreshes every 2 seconds";
  }

  function draw(panel, data, render) {
    // Redraw a panel only when its data (or the minute, for relative times) changed:
    // buttons stay put under the pointer and nothing flickers.
    const key = JSON.stringify(data) + Math.floor(Date.now() / 60000);
    if (state.shown[panel] === key) return;
    state.shown[panel] = key;
    render(data);
  }

  function report(err) {
    if (!(err instanceof AuthError)) notice(err.message);
  }

  // ----- platforms ------------------------------------------------------------------

  function stateKind(s) {
    if (s === "connected") return "good";
    if (s === "starting" || s === "reconnecting") return "warn";
    if (s.startsWith("failed")) return "bad";
    return "quiet";
  }

  function drawStatus(status) {
    const data = {
      profile: status.profile,
      version: status.version,
      uptime: span(status.uptime_s || 0),
      platforms: status.platforms || {},
      skipped: status.skipped_updates || { counts: {}, recent: [] },
      mcp: status.mcp && status.mcp.state,
      skills: status.skills || [],
      stats: status.stats || {},
      tz: status.cron_timezone,
    };
    draw("status", data, (d) => {
      $("dash-profile").textContent = d.profile ? `· ${d.profile}` : "";
      $("cron-tz").textContent = d.tz ? `(schedules in ${d.tz})` : "";
      const list = $("platforms");
      list.replaceChildren();
      for (const name of Object.keys(d.platforms).sort()) {
        const li = el("li");
        li.dataset.platform = name;
        const st = d.platforms[name];
        li.append(el("span", "p-name", name));
        const skipped = d.skipped.counts[name];
        if (skipped) li.append(badge(`${skipped} skipped`, "warn p-skipped"));
        li.append(badge(st, stateKind(st)));
        list.append(li);
      }
      if (!list.children.length) list.append(el("li", "muted small", "No platforms configured."));
      drawSkipped(list, d.skipped);
      const facts = [
        ["Profile", d.profile],
        ["Up for", d.uptime],
        ["Version", d.version],
        ["MCP", d.mcp],
        ["Skills", d.skills.length ? d.skills.join(", ") : "none yet"],
        ["Sessions", d.stats.sessions],
      ];
      const dl = $("gateway-facts");
      dl.replaceChildren();
      for (const [label, value] of facts) {
        if (value === undefined || value === null) continue;
        const row = el("div");
        row.append(el("dt", "", label), el("dd", "", value));
        dl.append(row);
      }
    });
  }

  function drawSkipped(after, skipped) {
    // Updates a platform sent that the gateway could not read or handle: recorded and
    // skipped so that the messages after them were answered (`hermes doctor` lists them).
    let box = $("skipped-updates");
    if (!box) {
      box = el("details", "skipped");
      box.id = "skipped-updates";
      after.after(box);
    }
    const recent = skipped.recent;
    const n = Object.values(skipped.counts).reduce((a, b) => a + b, 0);
    box.hidden = !n;
    const summary = el("summary", "", `${n} update${n === 1 ? "" : "s"} skipped this week`);
    const note = el(
      "p",
      "muted",
      "Hermes could not read or handle these and skipped them; nothing else was lost.",
    );
    const ul = el("ul");
    for (const s of recent) {
      const li = el("li");
      li.title = s.raw;
      li.append(
        el("span", "", `${s.platform} update ${s.update_id} · ${relative(s.at)} · `),
        el("span", "why", s.error),
      );
      ul.append(li);
    }
    box.replaceChildren(summary, note, ul);
  }

  // ----- tasks ---------------------------------------------------------------------

  function drawTasks(tasks) {
    // Open tasks first (newest first within each group, as the server sends them).
    const ordered = [...tasks.filter((t) => OPEN.has(t.status))];
    ordered.push(...tasks.filter((t) => !OPEN.has(t.status)));
    draw("tasks", ordered, (list) => {
      const ul = $("tasks");
      ul.replaceChildren(...list.map(taskCard));
      const open = list.filter((t) => OPEN.has(t.status)).length;
      $("tasks-count").textContent = open ? `${open} open` : "";
      $("tasks-empty").hidden = list.length > 0;
    });
  }

  function taskCard(t) {
    const li = el("li", `card task st-${t.status}`);
    li.dataset.id = t.id;
    li.dataset.status = t.status;
    const head = el("div", "card-head");
    head.append(badge(words(t.status), `st-${t.status}`), el("span", "kind", t.kind));
    head.append(el("code", "id", t.id));
    const at = t.finished_at || t.started_at || t.created_at;
    const verb = t.finished_at ? "finished" : t.started_at ? "started" : "queued";
    head.append(el("span", "when", `${verb} ${relative(at)}`));
    li.append(head, el("p", "prompt", t.prompt));
    if (t.origin) li.append(el("p", "meta", `from ${t.origin}`));
    if (t.progress && t.progress.length) {
      const ol = el("ol", "progress");
      for (const e of t.progress) {
        const item = el("li");
        item.append(el("span", "at", clock(e.at)));
        if (e.kind !== "progress") item.append(el("span", "ev-kind", e.kind));
        item.append(el("span", "ev-text", e.text));
        ol.append(item);
      }
      li.append(ol);
    }
    if (t.result) {
      const box = el("div", "result");
      box.append(el("div", "label", "Result"), el("p", "text", t.result));
      li.append(box);
    }
    if (t.error) li.append(el("p", "error task-error", t.error));
    if (OPEN.has(t.status)) {
      const actions = el("div", "actions");
      actions.append(
        button("Cancel", "cancel", async (event) => {
          event.currentTarget.disabled = true;
          notice(null);
          try {
            await call("POST", `/api/hermes/tasks/${encodeURIComponent(t.id)}/cancel`, {
              by: "dashboard",
            });
          } catch (err) {
            report(err);
            state.shown.tasks = null;
          }
          refreshSoon(0);
        }),
      );
      li.append(actions);
    }
    return li;
  }

  // ----- approvals -------------------------------------------------------------------

  function drawApprovals(approvals) {
    const pending = new Set(approvals.map((a) => a.id));
    for (const id of state.deciding) if (!pending.has(id)) state.deciding.delete(id);
    const shown = approvals.filter((a) => !state.deciding.has(a.id));
    draw("approvals", shown, (list) => {
      $("approvals").replaceChildren(...list.map(approvalCard));
      $("approvals-count").textContent = list.length ? `${list.length} pending` : "";
      $("approvals-empty").hidden = list.length > 0;
    });
  }

  function approvalCard(a) {
    const li = el("li", `card approval risk-${a.risk}`);
    li.dataset.id = a.id;
    const head = el("div", "card-head");
    head.append(badge(`${a.risk} risk`, `risk-${a.risk}`), el("code", "tool", a.tool));
    head.append(el("code", "id", a.id), el("span", "when", relative(a.created_at)));
    const pre = el("pre", "action");
    pre.append(el("code", "", a.action));
    li.append(head, pre, el("p", "reason", a.reason));
    const from = [];
    if (a.owner && a.owner.startsWith("task:")) from.push(`task ${a.owner.slice(5)}`);
    if (a.origin) from.push(`chat ${a.origin}`);
    if (from.length) li.append(el("p", "meta", `from ${from.join(" · ")}`));
    if (a.auto_approve_at) {
      const auto = el("p", "meta", "approved automatically ");
      auto.append(timeEl(a.auto_approve_at), document.createTextNode(" unless you reject it"));
      li.append(auto);
    }
    const actions = el("div", "actions");
    actions.append(
      button("Approve", "primary approve", () => decide(a, "approve", li)),
      button("Reject", "danger reject", () => decide(a, "reject", li)),
    );
    li.append(actions);
    return li;
  }

  async function decide(a, decision, li) {
    // The card goes at once; the task resumes (or gives up) on the gateway.
    notice(null);
    state.deciding.add(a.id);
    li.remove();
    const left = $("approvals").children.length;
    $("approvals-count").textContent = left ? `${left} pending` : "";
    $("approvals-empty").hidden = left > 0;
    try {
      await call("POST", `/api/hermes/approvals/${encodeURIComponent(a.id)}`, {
        decision,
        by: "dashboard",
      });
    } catch (err) {
      state.deciding.delete(a.id); // show the truth again: still pending, or decided elsewhere
      report(err);
    }
    state.shown.approvals = null;
    refreshSoon(0);
  }

  // ----- cron ------------------------------------------------------------------------

  function cell(label, ...children) {
    const td = el("td");
    td.dataset.label = label; // the label shown before the value on a phone
    const box = el("div");
    box.append(...children);
    td.append(box);
    return td;
  }

  function drawCron(jobs) {
    draw("cron", jobs, (list) => {
      $("cron").replaceChildren(...list.map(cronRow));
      $("cron-table").hidden = list.length === 0;
      $("cron-empty").hidden = list.length > 0;
    });
  }

  function cronRow(job) {
    const tr = el("tr", `job st-${job.status}`);
    tr.dataset.id = job.id;
    const name = el("div", "job-name", job.name);
    const about = el("div", "muted small job-prompt", job.prompt);
    about.title = job.prompt;
    const deliver = el("div", "muted small", `→ ${job.deliver}`);
    const schedule = el("code", "schedule", job.schedule);
    const describe = el("div", "muted small describe", job.describe);
    const next = el("div", "next");
    if (job.next_run_at && job.status === "active") {
      next.append(timeEl(job.next_run_at), el("div", "muted small", relative(job.next_run_at)));
    } else {
      next.append(el("span", "muted", "—"));
    }
    if (job.last_run_at) next.append(el("div", "muted small", `last ${relative(job.last_run_at)}`));
    const actions = el("div", "actions");
    const path = `/api/hermes/cron/${encodeURIComponent(job.id)}`;
    if (job.status === "active") {
      actions.append(button("Pause", "pause", (e) => cronAction(e, "POST", `${path}/pause`)));
    } else if (job.status === "paused") {
      actions.append(button("Resume", "resume", (e) => cronAction(e, "POST", `${path}/resume`)));
    }
    actions.append(
      button("Remove", "danger remove", (e) => {
        if (window.confirm(`Remove the cron job "${job.name}"? It will not run again.`)) {
          cronAction(e, "DELETE", path);
        }
      }),
    );
    tr.append(
      cell("Name", name, about, deliver),
      cell("Schedule", schedule, describe),
      cell("Next run", next),
      cell("Status", badge(job.status, `st-${job.status}`)),
      cell("", actions),
    );
    return tr;
  }

  async function cronAction(event, method, path) {
    event.currentTarget.disabled = true;
    notice(null);
    try {
      await call(method, path);
    } catch (err) {
      report(err);
    }
    state.shown.cron = null;
    refreshSoon(0);
  }

  async function addJob(event) {
    event.preventDefault();
    const error = $("cron-error");
    const added = $("cron-added");
    error.hidden = true;
    added.hidden = true;
    const body = {
      schedule: $("cron-schedule").value.trim(),
      prompt: $("cron-prompt").value.trim(),
      created_by: "dashboard",
    };
    const name = $("cron-name").value.trim();
    const deliver = $("cron-deliver").value.trim();
    if (name) body.name = name;
    if (deliver) body.deliver = deliver;
    $("cron-add").disabled = true;
    try {
      const job = await call("POST", "/api/hermes/cron", body);
      $("cron-form").reset();
      added.textContent = job.next_run_at
        ? `Added "${job.name}": first run ${localTime(job.next_run_at)}.`
        : `Added "${job.name}".`;
      added.hidden = false;
      state.shown.cron = null;
      refreshSoon(0);
    } catch (err) {
      if (err instanceof AuthError) return;
      error.textContent = err.message; // the server's words: they name the accepted forms
      error.hidden = false;
    } finally {
      $("cron-add").disabled = false;
    }
  }

  // ----- sessions ---------------------------------------------------------------------

  async function loadSessions() {
    const ticket = ++state.sessionsTicket;
    const q = $("dash-search").value.trim();
    const data = await call("GET", `/api/web/sessions${q ? `?q=${encodeURIComponent(q)}` : ""}`);
    if (ticket !== state.sessionsTicket) return; // a newer search is on its way
    const list = $("dash-sessions");
    list.replaceChildren();
    for (const s of data.sessions) {
      const li = el("li");
      li.dataset.id = s.id;
      const b = button("", "", () => openSession(s));
      b.append(el("span", "s-title", s.title || "Untitled session"));
      const meta = `${s.source} · ${s.message_count} messages · ${relative(s.updated_at)}`;
      b.append(el("span", "s-meta", meta));
      if (s.excerpt) b.append(el("span", "s-excerpt", s.excerpt));
      li.append(b);
      list.append(li);
    }
    const empty = $("dash-sessions-empty");
    empty.hidden = data.sessions.length > 0;
    empty.textContent = q ? "No session matches." : "No sessions yet.";
  }

  function openSession(s) {
    // Past conversations open in the chat's read-only viewer.
    go("#/chat");
    window.hermesChat.openSession(s).catch((err) => {
      go(VIEW);
      report(err);
    });
  }

  // ----- wiring -----------------------------------------------------------------------

  function bind() {
    window.addEventListener("hashchange", applyView);
    document.addEventListener("hermes:ready", applyView); // logged in, the page is showing
    document.addEventListener("visibilitychange", () => {
      if (visible()) refreshSoon(0);
      else stop();
    });
    $("cron-form").addEventListener("submit", addJob);
    let searchTimer = null;
    $("dash-search").addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => loadSessions().catch(report), 250);
    });
  }

  bind();
  applyView();
})();
