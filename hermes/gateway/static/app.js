// Hermes web chat. Plain JS, no build step, no external resources.
// Every piece of user or model text goes into the page through textContent /
// text nodes, never as HTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const CHAT_KEY = "hermes.web.chat";
  const CHAT_ID = /^[A-Za-z0-9_-]{1,64}$/;

  class AuthError extends Error {}

  const state = {
    chat: chatId(),
    session: null, // the live chat's session id
    seq: 0, // newest event seen: a reconnect asks for what came after it
    source: null, // the EventSource
    viewing: null, // id of the past session shown read-only, if any
    sent: new Set(), // client ids of messages sent from this tab
    waiting: false, // a message was sent and no reply event came yet
    bubbles: new Map(), // reply message id -> <li>
    sessionsRequest: 0,
    reconnectDelay: 1000,
  };

  // ----- ids and storage --------------------------------------------------------

  function randomId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function chatId() {
    // One chat per browser, kept across reloads so the page shows its history again.
    let id = null;
    try {
      id = localStorage.getItem(CHAT_KEY);
    } catch (_) {
      /* storage disabled: a chat for this page only */
    }
    if (!id || !CHAT_ID.test(id)) {
      id = randomId();
      try {
        localStorage.setItem(CHAT_KEY, id);
      } catch (_) {
        /* ignore */
      }
    }
    return id;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ----- HTTP ---------------------------------------------------------------------

  async function api(path, body) {
    const init = { credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    let data = null;
    try {
      data = await res.json();
    } catch (_) {
      /* not JSON */
    }
    if (res.status === 401 && path !== "/api/web/login") {
      showLogin();
      throw new AuthError("logged out");
    }
    if (!res.ok) {
      // every error of the gateway: {"error": {"message", "type", "code"}}
      const detail = data && data.error && data.error.message;
      const err = new Error(detail || `the gateway answered HTTP ${res.status}`);
      err.status = res.status;
      throw err;
    }
    return data;
  }

  // ----- rendering text safely -------------------------------------------------

  function inline(parent, text) {
    // `code` spans and http(s) links; everything else is plain text.
    for (const [i, part] of text.split(/(`[^`\n]+`)/).entries()) {
      if (i % 2 === 1) {
        const code = document.createElement("code");
        code.textContent = part.slice(1, -1);
        parent.append(code);
        continue;
      }
      for (const [j, piece] of part.split(/(https?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]])/).entries()) {
        if (j % 2 === 1) {
          const a = document.createElement("a");
          a.href = piece;
          a.textContent = piece;
          a.target = "_blank";
          a.rel = "noopener noreferrer";
          parent.append(a);
        } else if (piece) {
          parent.append(document.createTextNode(piece));
        }
      }
    }
  }

  function renderText(el, text) {
    // Text with ``` fenced code blocks; an unclosed fence (a reply still streaming)
    // shows the rest as code.
    el.replaceChildren();
    let prose = [];
    let code = null;
    const flush = () => {
      const t = prose.join("\n").replace(/^\n+|\n+$/g, "");
      prose = [];
      if (t) {
        const p = document.createElement("p");
        inline(p, t);
        el.append(p);
      }
    };
    const block = (lines) => {
      const pre = document.createElement("pre");
      const c = document.createElement("code");
      c.textContent = lines.join("\n");
      pre.append(c);
      el.append(pre);
    };
    for (const line of String(text).split("\n")) {
      if (/^\s*```/.test(line)) {
        if (code === null) {
          flush();
          code = [];
        } else {
          block(code);
          code = null;
        }
      } else if (code !== null) {
        code.push(line);
      } else {
        prose.push(line);
      }
    }
    if (code !== null) block(code);
    flush();
  }

  // ----- the message list --------------------------------------------------------

  function nearBottom() {
    const s = $("scroller");
    return s.scrollHeight - s.scrollTop - s.clientHeight < 120;
  }

  function scrollToBottom() {
    const s = $("scroller");
    s.scrollTop = s.scrollHeight;
  }

  function changing(fn) {
    // Keep following the conversation unless the reader scrolled up.
    const follow = nearBottom();
    const result = fn();
    if (follow) scrollToBottom();
    return result;
  }

  function bubble(role, text, opts = {}) {
    const li = document.createElement("li");
    li.className = `msg ${role === "user" ? "user" : "assistant"}`;
    li.dataset.role = role;
    li.rawText = text;
    if (opts.history) li.dataset.history = "1";
    if (opts.at) li.title = new Date(opts.at * 1000).toLocaleString();
    const div = document.createElement("div");
    div.className = "bubble";
    renderText(div, text);
    li.append(div);
    if (opts.buttons && opts.buttons.length) addButtons(li, opts.buttons);
    return li;
  }

  function addMessage(role, text, opts = {}) {
    const list = opts.into || $("messages");
    const li = bubble(role, text, opts);
    changing(() => list.append(li));
    updateEmpty();
    return li;
  }

  function addButtons(li, rows) {
    const box = document.createElement("div");
    box.className = "buttons";
    for (const row of rows) {
      for (const b of row) {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = b.label;
        button.addEventListener("click", () => {
          for (const other of box.querySelectorAll("button")) other.disabled = true;
          send(b.label, { callback: b.data });
        });
        box.append(button);
      }
    }
    li.append(box);
  }

  function upsertReply(id, text, buttons) {
    changing(() => {
      let li = state.bubbles.get(id);
      if (!li) {
        li = bubble("assistant", text, { buttons });
        li.dataset.id = id;
        state.bubbles.set(id, li);
        $("messages").append(li);
      } else {
        renderText(li.querySelector(".bubble"), text);
        if (buttons && buttons.length && !li.querySelector(".buttons")) addButtons(li, buttons);
      }
    });
    updateEmpty();
  }

  function setNote(li, text, retry) {
    if (!li) return;
    let note = li.querySelector(".note");
    if (!text) {
      if (note) note.remove();
      li.classList.remove("failed");
      return;
    }
    if (!note) {
      note = document.createElement("div");
      note.className = "note";
      li.append(note);
    }
    note.textContent = text;
    li.classList.toggle("failed", Boolean(retry));
    if (retry) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "Retry";
      b.addEventListener("click", retry);
      note.append(b);
    }
  }

  function updateEmpty() {
    $("empty").hidden = Boolean(state.viewing) || $("messages").children.length > 0;
  }

  function setWaiting(on) {
    state.waiting = on;
    $("working").hidden = !on || Boolean(state.viewing);
    if (on) changing(() => {});
  }

  function setConn(live) {
    const c = $("conn");
    c.classList.toggle("live", live);
    c.textContent = live ? "live" : "reconnecting…";
  }

  // ----- sending --------------------------------------------------------------------

  async function send(text, opts = {}) {
    const body = { chat: state.chat, text, client_id: randomId() };
    if (opts.callback) body.callback_data = opts.callback;
    state.sent.add(body.client_id);
    const li = opts.silent ? null : addMessage("user", text);
    if (li) scrollToBottom();
    await deliver(body, li);
  }

  async function deliver(body, li) {
    // Retries reuse the client id: the gateway accepts a message once.
    setWaiting(true);
    for (let attempt = 0; ; attempt++) {
      try {
        await api("/api/web/send", body);
        setNote(li, null);
        if (!state.session) refreshSessionsSoon(300); // the first message creates the session
        return;
      } catch (err) {
        if (err instanceof AuthError) {
          setWaiting(false);
          return;
        }
        const retryable = !err.status || err.status >= 500;
        if (retryable && attempt < 4) {
          setNote(li, "sending…");
          await sleep(500 * 2 ** attempt);
          continue;
        }
        setWaiting(false);
        setNote(li, `not sent: ${err.message}`, () => deliver(body, li));
        return;
      }
    }
  }

  // ----- live events -----------------------------------------------------------------

  function connect() {
    if (state.source) state.source.close();
    const url = `/api/web/events?chat=${encodeURIComponent(state.chat)}&after=${state.seq}`;
    const source = new EventSource(url);
    state.source = source;
    source.onopen = () => {
      state.reconnectDelay = 1000;
      setConn(true);
    };
    source.onmessage = (e) => {
      let event;
      try {
        event = JSON.parse(e.data);
      } catch (_) {
        return;
      }
      handle(event);
    };
    source.onerror = () => {
      setConn(false);
      if (source.readyState !== EventSource.CLOSED || state.source !== source) return;
      // The gateway refused the stream (restarting, or the key changed): reload.
      state.source = null;
      const delay = state.reconnectDelay;
      state.reconnectDelay = Math.min(delay * 2, 15000);
      setTimeout(() => {
        if (!state.source && !$("app").hidden) loadLive().catch(() => {});
      }, delay);
    };
  }

  function handle(event) {
    if (typeof event.seq === "number" && event.seq > state.seq) state.seq = event.seq;
    if (event.type === "message" || event.type === "edit") {
      setWaiting(false);
      upsertReply(event.id, event.text || "", event.buttons);
      if (event.type === "message") refreshSessionsSoon();
    } else if (event.type === "user") {
      if (state.sent.has(event.client_id)) return;
      state.sent.add(event.client_id);
      const last = [...$("messages").querySelectorAll(".msg.user")].pop();
      if (last && last.dataset.history && last.rawText === event.text) return;
      addMessage("user", event.text || "");
    } else if (event.type === "reset") {
      loadLive().catch(() => {}); // events were missed: the stored history is the truth
    }
  }

  // ----- views ----------------------------------------------------------------------

  async function loadLive() {
    const data = await api(`/api/web/history?chat=${encodeURIComponent(state.chat)}`);
    $("profile").textContent = data.profile ? `· ${data.profile}` : "";
    state.session = data.session;
    state.bubbles.clear();
    $("messages").replaceChildren();
    for (const m of data.messages) addMessage(m.role, m.text, { at: m.at, history: true });
    state.seq = data.seq || 0;
    updateEmpty();
    connect();
    scrollToBottom();
  }

  function showLive() {
    state.viewing = null;
    $("viewing").hidden = true;
    $("transcript").hidden = true;
    $("transcript").replaceChildren();
    $("messages").hidden = false;
    $("composer").hidden = false;
    setWaiting(state.waiting);
    updateEmpty();
    markCurrent();
    scrollToBottom();
    $("input").focus();
  }

  async function showTranscript(info) {
    const data = await api(`/api/web/sessions/${encodeURIComponent(info.id)}`);
    state.viewing = info.id;
    const list = $("transcript");
    list.replaceChildren();
    for (const m of data.messages) addMessage(m.role, m.text, { at: m.at, into: list });
    if (!data.messages.length) {
      const li = document.createElement("li");
      li.className = "divider";
      li.textContent = "This session has no messages to show.";
      list.append(li);
    }
    $("viewing-label").textContent =
      `${info.title || "Untitled session"} · ${info.source} · read-only`;
    $("viewing").hidden = false;
    $("messages").hidden = true;
    list.hidden = false;
    $("composer").hidden = true;
    $("working").hidden = true;
    updateEmpty();
    markCurrent();
    $("scroller").scrollTop = 0;
    closeSidebar();
  }

  // ----- the session list ------------------------------------------------------------

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
          showLive();
          closeSidebar();
        } else {
          showTranscript(s).catch(showError);
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

  // ----- login ------------------------------------------------------------------------

  function showLogin() {
    if (state.source) state.source.close();
    state.source = null;
    $("app").hidden = true;
    $("login").hidden = false;
    $("login-key").focus();
  }

  function showError(err) {
    if (err instanceof AuthError) return;
    const li = document.createElement("li");
    li.className = "divider error";
    li.textContent = err.message;
    changing(() => $("messages").append(li));
  }

  async function login(event) {
    event.preventDefault();
    const error = $("login-error");
    error.hidden = true;
    $("login-submit").disabled = true;
    try {
      await api("/api/web/login", { key: $("login-key").value });
      $("login-key").value = "";
      await start();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    } finally {
      $("login-submit").disabled = false;
    }
  }

  async function start() {
    await loadLive();
    $("login").hidden = true;
    $("app").hidden = false;
    showLive();
    loadSessions().catch(showError);
    document.dispatchEvent(new Event("hermes:ready")); // the dashboard starts refreshing
  }

  // ----- wiring ---------------------------------------------------------------------

  function autosize() {
    const input = $("input");
    input.style.height = "auto";
    input.style.height = `${input.scrollHeight + 2}px`;
  }

  function submit(event) {
    event.preventDefault();
    const input = $("input");
    const text = input.value;
    if (!text.trim()) return;
    input.value = "";
    autosize();
    send(text);
  }

  function bind() {
    $("login-form").addEventListener("submit", login);
    $("composer").addEventListener("submit", submit);
    $("input").addEventListener("input", autosize);
    $("input").addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) submit(e);
    });
    $("new-chat").addEventListener("click", () => {
      showLive();
      closeSidebar();
      state.bubbles.clear();
      $("messages").replaceChildren();
      updateEmpty();
      send("/new", { silent: true });
    });
    $("back-live").addEventListener("click", showLive);
    let searchTimer = null;
    $("search").addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => loadSessions().catch(showError), 250);
    });
    $("menu").addEventListener("click", openSidebar);
    $("scrim").addEventListener("click", closeSidebar);
    $("logout").addEventListener("click", async () => {
      try {
        await api("/api/web/logout", {});
      } finally {
        showLogin();
      }
    });
  }

  // What dashboard.js uses: the read-only viewer for past sessions and the login form.
  window.hermesChat = { openSession: showTranscript, showLogin };

  bind();
  start().catch((err) => {
    if (err instanceof AuthError) return; // the login form is showing
    $("login").hidden = false;
    const error = $("login-error");
    error.textContent = `cannot reach the gateway: ${err.message}`;
    error.hidden = false;
  });
})();
