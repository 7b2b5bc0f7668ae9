// Hermes dashboard, part 3 of 3: cron jobs (next runs in the zone of their
// schedules, named; results kept for want of a target) and past sessions (a
// page at a time, with "More"). Uses window.hermesDash (dashboard_base.js) and
// the view's go/refreshSoon (dashboard.js).
"use strict";

(() => {
  const D = window.hermesDash;
  const {
    $,
    VIEW,
    AuthError,
    state,
    el,
    button,
    badge,
    plural,
    localTime,
    chatLabel,
    relative,
    timeEl,
    notice,
    call,
    draw,
    report,
  } = D;
  const SESSIONS_PAGE = 50;

  // ----- cron ------------------------------------------------------------------------

  function cell(label, ...children) {
    const td = el("td");
    td.dataset.label = label; // the label shown before the value on a phone
    const box = el("div");
    box.append(...children);
    td.append(box);
    return td;
  }

  function drawCron(data) {
    state.tz = data.timezone || null;
    draw("cron", data.jobs, (list) => {
      $("cron").replaceChildren(...list.map(cronRow));
      $("cron-table").hidden = list.length === 0;
      $("cron-empty").hidden = list.length > 0;
    });
  }

  function target(job) {
    // where a job's results go, in words: a chat's name rather than its id
    if (job.deliver === "origin") return job.origin ? chatLabel(job.origin) : "its chat";
    if (job.deliver === "home") return "the home channel";
    if (job.deliver === "none") return "nowhere (kept in history)";
    return chatLabel(job.deliver);
  }

  function cronRow(job) {
    const tr = el("tr", `job st-${job.status}`);
    tr.dataset.id = job.id;
    const name = el("div", "job-name", job.name);
    const about = el("div", "muted small job-prompt", job.prompt);
    about.title = job.prompt;
    const deliver = el("div", "muted small deliver", `→ ${target(job)}`);
    deliver.title = job.deliver === "origin" ? job.origin || "" : job.deliver;
    const kept = job.kept
      ? el("div", "error small kept", `⚠ ${plural(job.kept.count, "result")} not delivered: ${job.kept.reason}; kept, and delivered once the target can be reached`)
      : null;
    const schedule = el("code", "schedule", job.schedule);
    const describe = el("div", "muted small describe", job.describe);
    const next = el("div", "next");
    if (job.next_run_at && job.status === "active") {
      next.append(
        timeEl(job.next_run_at, "", state.tz),
        el("div", "muted small", relative(job.next_run_at)),
      );
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
      cell("Name", ...[name, about, deliver, kept].filter(Boolean)),
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
    D.refreshSoon(0);
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
        ? `Added "${job.name}": first run ${localTime(job.next_run_at, state.tz)}.`
        : `Added "${job.name}".`;
      if (job.warning) added.textContent += ` Note: ${job.warning}.`;
      added.hidden = false;
      state.shown.cron = null;
      D.refreshSoon(0);
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
    const query = q ? `q=${encodeURIComponent(q)}` : `limit=${state.sessionsLimit}`;
    const data = await call("GET", `/api/web/sessions?${query}`);
    if (ticket !== state.sessionsTicket) return; // a newer search is on its way
    const list = $("dash-sessions");
    list.replaceChildren();
    for (const s of data.sessions) {
      const li = el("li");
      li.dataset.id = s.id;
      const b = button("", "", () => openSession(s));
      b.append(el("span", "s-title", s.title || "Untitled session"));
      const meta = `${s.source} · ${plural(s.message_count, "message")} · ${relative(s.updated_at)}`;
      b.append(el("span", "s-meta", meta));
      if (s.excerpt) b.append(el("span", "s-excerpt", s.excerpt));
      li.append(b);
      list.append(li);
    }
    const empty = $("dash-sessions-empty");
    empty.hidden = data.sessions.length > 0;
    empty.textContent = q ? "No session matches." : "No sessions yet.";
    moreSessions(Boolean(data.more) && !q);
  }

  function moreSessions(show) {
    // "More" under the list: the next page of older sessions.
    let more = $("dash-sessions-more");
    if (!more) {
      more = button("More", "more", () => {
        state.sessionsLimit += SESSIONS_PAGE;
        loadSessions().catch(report);
      });
      more.id = "dash-sessions-more";
      $("dash-sessions-empty").after(more);
    }
    more.hidden = !show;
  }

  function openSession(s) {
    // Past conversations open in the chat's read-only viewer.
    D.go("#/chat");
    window.hermesChat.openSession(s).catch((err) => {
      D.go(VIEW);
      report(err);
    });
  }

  // ----- wiring -----------------------------------------------------------------------

  D.drawCron = drawCron;
  D.loadSessions = loadSessions;
  $("cron-form").addEventListener("submit", addJob);
  let searchTimer = null;
  $("dash-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.sessionsLimit = SESSIONS_PAGE;
      loadSessions().catch(report);
    }, 250);
  });
})();
