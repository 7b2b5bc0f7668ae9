// Hermes web chat: ids, storage and the gateway's HTTP API (window.hermesNet).
"use strict";

(() => {
  const CHAT_KEY = "hermes.web.chat";
  const CHAT_ID = /^[A-Za-z0-9_-]{1,64}$/;

  class AuthError extends Error {}

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
      if (window.hermesNet.loggedOut) window.hermesNet.loggedOut();
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

  // loggedOut: what app.js does when the gateway says the login is gone
  window.hermesNet = { AuthError, api, chatId, randomId, sleep, loggedOut: null };
})();
