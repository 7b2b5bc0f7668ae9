// Hermes dashboard: pending approvals, tasks with their progress, platforms, past
// sessions, cron jobs and skill proposals (dashboard_skills.js), on the same page as the chat (the "#/dashboard" view).
// Plain JS, no build step, no external resources. Everything the gateway sends goes
// into the page through textContent, never as HTML. It refreshes every 2 s while it is
// on screen and stops when it is not (the chat view, a background tab, logged out), so
// an idle page costs the gateway nothing.
"use strict";

(() => {
  const D = window.hermesDash; // dashboard_base.js
  const {
    $,
    VIEW,
    OPEN,
    AuthError,
    state,
    el,
    button,
    badge,
    words,
    chatLabel,
    chatEl,
    clock,
    span,
    relative,
    timeEl,
    notice,
    call,
    draw,
    report,
  } = D;
  const POLL_MS = 2000;
  const RECENT_S = 24 * 3600; // the "recent" task filter: finished within a day

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
      if (D.loadSessions) D.loadSessions().catch(report);
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
      ["/api/hermes/chats", keepNames],
      ["/api/hermes/status", drawStatus],
      ["/api/hermes/tasks", (d) => drawTasks(d.tasks)],
      ["/api/hermes/approvals", (d) => drawApprovals(d.approvals)],
      ["/api/hermes/cron", (d) => D.drawCron && D.drawCron(d)],
      ["/api/hermes/skills/proposals", (d) => D.drawSkills && D.drawSkills(d)],
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

  function keepNames(data) {
    const names = {};
    for (const c of data.chats || []) if (c.name) names[`${c.platform}:${c.chat}`] = c.name;
    if (JSON.stringify(names) !== JSON.stringify(state.names)) {
      state.names = names;
      state.shown = {}; // the panels show names: draw them again
    }
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

  function shownTasks(tasks) {
    // The filter: open tasks always; finished ones within a day ("recent") or all.
    const now = Date.now() / 1000;
    if (state.taskFilter === "all") return tasks;
    return tasks.filter(
      (t) =>
        OPEN.has(t.status) ||
        (state.taskFilter === "recent" && now - (t.finished_at || t.created_at) < RECENT_S),
    );
  }

  function taskFilter() {
    // <select> in the panel's heading, made here (the page's HTML stays the chat's).
    let select = $("tasks-filter");
    if (select) return select;
    select = el("select", "tasks-filter");
    select.id = "tasks-filter";
    select.setAttribute("aria-label", "Which tasks to show");
    for (const [value, label] of [
      ["recent", "open and last 24 h"],
      ["open", "open only"],
      ["all", "all"],
    ]) {
      const option = el("option", "", label);
      option.value = value;
      select.append(option);
    }
    select.value = state.taskFilter;
    select.addEventListener("change", () => {
      state.taskFilter = select.value;
      state.shown.tasks = null;
      drawTasks(state.tasks);
    });
    $("tasks-title").after(select);
    return select;
  }

  function drawTasks(tasks) {
    // Open tasks first (newest first within each group, as the server sends them).
    state.tasks = tasks;
    taskFilter();
    const ordered = [...tasks.filter((t) => OPEN.has(t.status))];
    ordered.push(...tasks.filter((t) => !OPEN.has(t.status)));
    const shown = nestTasks(shownTasks(ordered), tasks);
    draw("tasks", { shown, total: tasks.length, filter: state.taskFilter }, (d) => {
      const ul = $("tasks");
      ul.replaceChildren(...d.shown.map(taskCard));
      const open = d.shown.filter((n) => OPEN.has(n.t.status)).length;
      const hidden = d.total - d.shown.length;
      const counts = [open ? `${open} open` : "", hidden ? `${hidden} hidden` : ""];
      $("tasks-count").textContent = counts.filter(Boolean).join(" · ");
      const empty = $("tasks-empty");
      empty.hidden = d.shown.length > 0;
      if (d.total > 0 && !d.shown.length) {
        empty.textContent = "No open tasks. Choose “all” to see the finished ones.";
      }
    });
  }

  function nestTasks(shown, all) {
    // A delegated child (t.parent: the session whose delegate call started it) goes
    // right under its parent task when that is shown (children oldest first), as
    // hermes/store/task_tree.py does for /tasks and `hermes tasks list`.
    // -> [{t, level, by: the parent task or null}]
    const bySession = new Map(all.filter((t) => t.session_id).map((t) => [t.session_id, t]));
    const ids = new Set(shown.map((t) => t.id));
    const under = new Map();
    for (const t of shown) {
      const host = t.parent ? bySession.get(t.parent) : null;
      if (!host || host.id === t.id || !ids.has(host.id)) continue;
      if (!under.has(host.id)) under.set(host.id, []);
      under.get(host.id).push(t);
    }
    const placed = new Set([...under.values()].flat().map((t) => t.id));
    const out = [];
    const done = new Set();
    const put = (t, level) => {
      if (done.has(t.id)) return;
      done.add(t.id);
      out.push({ t, level, by: (t.parent && bySession.get(t.parent)) || null });
      const kids = [...(under.get(t.id) || [])].sort((a, b) => a.created_at - b.created_at);
      for (const kid of kids) put(kid, level + 1);
    };
    for (const t of shown) if (!placed.has(t.id)) put(t, 0);
    for (const t of shown) put(t, 0); // a loop of parents (impossible) is still shown
    return out;
  }

  function goal(t) {
    // A child's prompt is the brief its parent wrote (hermes/gateway/delegation.py
    // BRIEF): shown as the goal it names.
    const at = t.parent ? t.prompt.indexOf("\n\nTask: ") : -1;
    if (at < 0) return t.prompt;
    return t.prompt.slice(at + 8).split("\n\nContext from the other agent:")[0].trim();
  }

  function taskCard({ t, level, by }) {
    const li = el("li", `card task st-${t.status}`);
    li.dataset.id = t.id;
    li.dataset.status = t.status;
    if (t.parent) {
      li.classList.add("child", `level-${Math.min(level, 2)}`);
      li.dataset.parent = by ? by.id : t.parent;
    }
    const head = el("div", "card-head");
    head.append(badge(words(t.status), `st-${t.status}`), el("span", "kind", t.kind));
    head.append(el("code", "id", t.id));
    const at = t.finished_at || t.started_at || t.created_at;
    const verb = t.finished_at ? "finished" : t.started_at ? "started" : "queued";
    head.append(el("span", "when", `${verb} ${relative(at)}`));
    li.append(head, el("p", "prompt", goal(t)));
    if (t.parent) {
      const who = by ? by.id : `the agent in session ${t.parent}`;
      const line = `↳ delegated by ${who} (depth ${t.depth})`;
      const due = t.deadline && OPEN.has(t.status) ? `, deadline ${relative(t.deadline)}` : "";
      li.append(el("p", "meta delegated", line + due));
    }
    if (t.origin) {
      const from = el("p", "meta", "from ");
      from.append(chatEl(t.origin));
      li.append(from);
    }
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
    if (a.origin) from.push(`chat ${chatLabel(a.origin)}`);
    if (from.length) li.append(el("p", "meta", `from ${from.join(" · ")}`));
    if (a.auto_approve_at) {
      const auto = el("p", "meta", "approved automatically ");
      auto.append(timeEl(a.auto_approve_at), document.createTextNode(" unless you deny it"));
      li.append(auto);
    }
    const actions = el("div", "actions");
    actions.append(
      button("Approve", "primary approve", () => decide(a, "approve", li)),
      button("Deny", "danger reject", () => decide(a, "reject", li)),
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

  // ----- wiring -----------------------------------------------------------------------

  D.go = go;
  D.refreshSoon = refreshSoon;
  window.addEventListener("hashchange", applyView);
  document.addEventListener("hermes:ready", applyView); // logged in, the page is showing
  document.addEventListener("visibilitychange", () => {
    if (visible()) refreshSoon(0);
    else stop();
  });
  // after every deferred script ran: dashboard_lists.js draws the cron jobs and sessions
  document.addEventListener("DOMContentLoaded", applyView);
})();
