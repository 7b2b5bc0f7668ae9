// Hermes web chat: the list of sessions in the sidebar (search, open, the live one).
// window.hermesSessions(ctx) -> {load, refreshSoon, markCurrent, open, close};
// ctx: {state, api, showLive, showTranscript, showError} from app.js.
"use strict";

window.hermesSessions = (ctx) => {
  const $ = (id) => document.getElementById(id);
  const { state, api } = ctx;

  function ago(seconds) {
    const d = Date.now() / 1000 - seconds;
    if (d < 60) return "just now";
    if (d < 3600) return `${Math.floor(d / 60)} min ago`;
    if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
    if (d < 7 * 86400) return `${Math.floor(d / 86400)} d ago`;
    return new Date(seconds * 1000).toLocaleDateString();
  }

  async function loadSessions() {
    const ticket = ++state.sessionsRequest;
    const q = $("search").value.trim();
    const params = new URLSearchParams({ chat: state.chat });
    if (q) params.set("q", q);
    const data = await api(`/api/web/sessions?${params}`);
    if (ticket !== state.sessionsRequest) return; // a newer search is on its way
    if (data.current) state.session = data.current;
    const list = $("sessions");
    list.replaceChildren();
    for (const s of data.sessions) {
      const li = document.createElement("li");
      li.dataset.id = s.id;
      const b = document.createElement("button");
      b.type = "button";
      const title = document.createElement("span");
      title.className = "s-title";
      title.textContent = s.title || (s.id === state.session ? "This chat" : "Untitled session");
      const meta = document.createElement("span");
      meta.className = "s-meta";
      const live = s.id === state.session ? "live · " : "";
      meta.textContent = `${live}${s.source} · ${s.message_count} messages · ${ago(s.updated_at)}`;
      b.append(title, meta);
      if (s.excerpt) {
        const ex = document.createElement("span");
        ex.className = "s-excerpt";
        ex.textContent = s.excerpt;
        b.append(ex);
      }
      b.addEventListener("click", () => {
        if (s.id === state.session) {
          ctx.showLive();
          closeSidebar();
        } else {
          ctx.showTranscript(s).catch(ctx.showError);
        }
      });
      li.append(b);
      list.append(li);
    }
    $("sessions-empty").hidden = data.sessions.length > 0;
    $("sessions-empty").textContent = q ? "No session matches." : "No sessions yet.";
    markCurrent();
  }

  function markCurrent() {
    const shown = state.viewing || state.session;
    for (const li of $("sessions").children) li.classList.toggle("current", li.dataset.id === shown);
  }

  let refreshTimer = null;
  function refreshSessionsSoon(ms = 250) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => loadSessions().catch(() => {}), ms);
  }

  function openSidebar() {
    $("sidebar").classList.add("open");
    $("scrim").hidden = false;
  }

  function closeSidebar() {
    $("sidebar").classList.remove("open");
    $("scrim").hidden = true;
  }

  return {
    load: loadSessions,
    refreshSoon: refreshSessionsSoon,
    markCurrent,
    open: openSidebar,
    close: closeSidebar,
  };
};
