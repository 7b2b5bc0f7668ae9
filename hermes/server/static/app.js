// Hermes web chat. Plain JS, no build step, no external resources.
// Every piece of user or model text goes into the page through textContent /
// text nodes, never as HTML (render.js draws messages, tool lines and buttons).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const R = window.hermesRender;
  const { AuthError, api, chatId, randomId, sleep } = window.hermesNet;

  const state = {
    chat: chatId(),
    session: null, // the live chat's session id
    seq: 0, // newest event seen: a reconnect asks for what came after it
    source: null, // the EventSource
    viewing: null, // id of the past session shown read-only, if any
    sent: new Set(), // client ids of messages sent from this tab
    pending: new Map(), // client id -> {li, accepted}: own messages not yet in the history
    waiting: false, // a message was sent and no reply event came yet
    bubbles: new Map(), // reply message id -> <li>
    turn: null, // id of the turn running in this chat (the Stop button shows)
    tools: new Map(), // turn id -> its block of tool lines
    historyRequest: 0,
    sessionsRequest: 0,
    reconnectDelay: 1000,
    wake: null, // resolves when the gateway is reachable again (waiting sends go then)
  };

  const S = window.hermesSessions({ state, api, showLive, showTranscript, showError });
  const V = window.hermesVoice({ state, addMessage, setWaiting }); // voice.js: 🎤 and players
  window.hermesNet.loggedOut = showLogin;

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

  function press(b) {
    send(b.label, { callback: b.data });
  }

  function addMessage(role, text, opts = {}) {
    const list = opts.into || $("messages");
    const li = R.bubble(role, text, { ...opts, onButton: press });
    changing(() => list.append(li));
    updateEmpty();
    return li;
  }

  function addItem(m, opts = {}) {
    // One entry of a stored transcript: a message, or a line of a tool call.
    if (m.role === "tool") {
      const list = opts.into || $("messages");
      let block = list.lastElementChild;
      if (!block || !block.classList.contains("tools") || block.dataset.turn) {
        block = R.toolBlock(null);
        list.append(block);
      }
      R.toolLine(block, m);
      return block;
    }
    if (m.audio) return V.audio(m, opts); // a spoken reply
    return addMessage(m.role, m.text, { ...opts, at: m.at, clientId: m.client_id });
  }

  function shownText(text) {
    // While the turn's tool lines show, the draft's trailing "⚙ tool" line would repeat one.
    if (!state.turn || !state.tools.has(state.turn)) return text;
    return text.replace(/\n*⚙ [^\n]*$/, "");
  }

  function upsertReply(id, text, buttons) {
    changing(() => {
      let li = state.bubbles.get(id);
      if (!li) {
        li = R.bubble("assistant", shownText(text), { buttons, onButton: press });
        li.dataset.id = id;
        state.bubbles.set(id, li);
        $("messages").append(li);
      } else {
        R.renderText(li.querySelector(".bubble"), shownText(text));
        if (buttons && buttons.length && !li.querySelector(".buttons")) {
          R.addButtons(li, buttons, press);
        }
      }
    });
    updateEmpty();
  }

  function showTool(event) {
    // A tool call of a running turn: its line stays, with how it ended. A call that
    // waited for an approval keeps its line when the turn resumes after the decision.
    const seen = $("messages").querySelector(`.tool[data-call="${CSS.escape(event.call)}"]`);
    changing(() => {
      let block = seen ? seen.closest(".tools") : state.tools.get(event.turn);
      if (!block || !block.isConnected) {
        block = R.toolBlock(event.turn);
        state.tools.set(event.turn, block);
        $("messages").append(block);
      }
      R.toolLine(block, event);
    });
    updateEmpty();
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
    c.title = live ? "connected to the gateway" : "reconnecting to the gateway…";
    if (live && state.wake) {
      state.wake.resolve();
      state.wake = null;
    }
  }

  function setModel(model, notice) {
    // Which model answers (the header), and the offline model's notice.
    if (model) {
      $("model").textContent = model;
      $("model").title = `answers come from ${model}`;
    }
    $("notice").textContent = notice || "";
    $("notice").hidden = !notice;
  }

  function setTurn(turn) {
    state.turn = turn;
    $("stop").hidden = !turn || Boolean(state.viewing);
    $("stop").disabled = false;
  }

  // ----- sending --------------------------------------------------------------------

  function reachable() {
    // A promise that resolves when the gateway answers again (or after 5 s at most).
    if (!state.wake) {
      let resolve;
      const promise = new Promise((r) => (resolve = r));
      state.wake = { promise, resolve };
    }
    return Promise.race([state.wake.promise, sleep(5000)]);
  }

  async function send(text, opts = {}) {
    const body = { chat: state.chat, text, client_id: randomId() };
    if (opts.callback) body.callback_data = opts.callback;
    state.sent.add(body.client_id);
    let li = null;
    if (!opts.silent) {
      li = addMessage("user", text, { clientId: body.client_id });
      state.pending.set(body.client_id, { li, accepted: 0 });
      scrollToBottom();
    }
    await deliver(body);
  }

  function pendingLi(body) {
    const entry = state.pending.get(body.client_id);
    return entry ? entry.li : null;
  }

  async function deliver(body) {
    // Retries reuse the client id: the gateway accepts a message once. While the
    // gateway cannot be reached the message waits, and goes when it is back.
    setWaiting(true);
    for (let attempt = 0; ; attempt++) {
      try {
        await api("/api/web/send", body);
        const entry = state.pending.get(body.client_id);
        if (entry) entry.accepted = state.historyRequest + 1; // histories from now on hold it
        R.setNote(pendingLi(body), null);
        if (!state.session) S.refreshSoon(300); // the first message creates the session
        return;
      } catch (err) {
        if (err instanceof AuthError) {
          setWaiting(false);
          return;
        }
        const li = pendingLi(body);
        if (!err.status || err.status >= 500) {
          const why = attempt < 2 ? "sending…" : "waiting for the gateway; sends when it is back";
          R.setNote(li, why);
          if (attempt < 3) await sleep(500 * 2 ** attempt);
          else await reachable();
          continue;
        }
        setWaiting(false);
        R.setNote(li, `not sent: ${err.message}`, () => deliver(body));
        return;
      }
    }
  }

  function stop() {
    // What /stop does: the running turn ends, its partial answer says "Stopped".
    $("stop").disabled = true;
    send("/stop", { silent: true });
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
      reloadLater();
    };
  }

  function reloadLater() {
    const delay = state.reconnectDelay;
    state.reconnectDelay = Math.min(delay * 2, 15000);
    setTimeout(() => {
      if (state.source || $("app").hidden) return;
      loadLive().catch((err) => {
        if (!(err instanceof AuthError)) reloadLater(); // still down: try again later
      });
    }, delay);
  }

  function handle(event) {
    if (typeof event.seq === "number" && event.seq > state.seq) state.seq = event.seq;
    if (event.type === "message" || event.type === "edit") {
      setWaiting(false);
      upsertReply(event.id, event.text || "", event.buttons);
      if (event.type === "message") S.refreshSoon();
    } else if (event.type === "user") {
      if (state.sent.has(event.client_id)) return; // sent from this tab: shown already
      if ($("messages").querySelector(`[data-client-id="${CSS.escape(event.client_id)}"]`)) return;
      state.sent.add(event.client_id);
      if (event.voice) V.userNote(event.client_id);
      else addMessage("user", event.text || "", { clientId: event.client_id });
    } else if (event.type === "transcript") {
      V.transcript(event);
    } else if (event.type === "audio") {
      setWaiting(false);
      V.audio(event, { live: true });
    } else if (event.type === "turn") {
      setModel(event.model, event.notice);
      if (event.running) setTurn(event.turn);
      else if (state.turn === event.turn) setTurn(null);
    } else if (event.type === "tool") {
      showTool(event);
    } else if (event.type === "approval") {
      R.decided($("messages"), event.id, event.status, event.by);
    } else if (event.type === "reset") {
      loadLive().catch(() => reloadLater()); // events were missed: the stored history is the truth
    }
  }

  // ----- views ----------------------------------------------------------------------

  async function loadLive() {
    const ticket = ++state.historyRequest;
    const data = await api(`/api/web/history?chat=${encodeURIComponent(state.chat)}`);
    $("profile").textContent = data.profile ? `· ${data.profile}` : "";
    setModel(data.model, data.notice);
    state.session = data.session;
    state.bubbles.clear();
    state.tools.clear();
    $("messages").replaceChildren();
    const stored = new Set();
    for (const m of data.messages) {
      addItem(m, { history: true });
      if (m.client_id) stored.add(m.client_id);
    }
    // Own messages the history cannot hold yet (still being sent) keep their bubble.
    for (const [id, entry] of state.pending) {
      if (stored.has(id) || (entry.accepted && entry.accepted <= ticket)) {
        state.pending.delete(id); // the gateway has it: the history shows it (or never will)
      } else {
        $("messages").append(entry.li);
      }
    }
    setTurn(data.running || null);
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
    setTurn(state.turn);
    updateEmpty();
    S.markCurrent();
    scrollToBottom();
    $("input").focus();
  }

  async function showTranscript(info) {
    const data = await api(`/api/web/sessions/${encodeURIComponent(info.id)}`);
    state.viewing = info.id;
    const list = $("transcript");
    list.replaceChildren();
    for (const m of data.messages) addItem(m, { into: list });
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
    S.markCurrent();
    $("scroller").scrollTop = 0;
    S.close();
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
    S.load().catch(showError);
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
      S.close();
      state.bubbles.clear();
      state.tools.clear();
      state.pending.clear();
      $("messages").replaceChildren();
      updateEmpty();
      send("/new", { silent: true });
    });
    $("back-live").addEventListener("click", showLive);
    $("stop").addEventListener("click", stop);
    V.bind();
    let searchTimer = null;
    $("search").addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => S.load().catch(showError), 250);
    });
    $("menu").addEventListener("click", S.open);
    $("scrim").addEventListener("click", S.close);
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

  async function boot() {
    // A one-time login link (URL#code=…, printed by a gateway started in a terminal):
    // the code leaves the address bar and the history at once, and is traded for a login.
    const link = /^#code=([A-Za-z0-9_-]{16,64})$/.exec(location.hash);
    if (link) {
      history.replaceState(null, "", location.pathname + location.search);
      try {
        await api("/api/web/login", { code: link[1] });
      } catch (err) {
        showLogin();
        $("login-error").textContent = err.message;
        $("login-error").hidden = false;
        return;
      }
    }
    await start();
  }

  bind();
  boot().catch((err) => {
    if (err instanceof AuthError) return; // the login form is showing
    $("login").hidden = false;
    const error = $("login-error");
    error.textContent = `cannot reach the gateway: ${err.message}`;
    error.hidden = false;
  });
})();
