// Hermes dashboard, part 1 of 3: what the panels share (dashboard.js draws the
// live panels, dashboard_lists.js the cron jobs and past sessions): the page's
// state, small DOM helpers (text goes in through textContent, never as HTML),
// times in the zone Hermes shows them in, chat names, and calls to the gateway.
"use strict";

window.hermesDash = (() => {
  const $ = (id) => document.getElementById(id);
  const VIEW = "#/dashboard";
  const OPEN = new Set(["queued", "running", "waiting_approval"]);
  const STATUS_WORDS = { waiting_approval: "waiting for approval", timed_out: "timed out" };
  const SESSIONS_PAGE = 50; // sessions shown at first, and added by "More"

  class AuthError extends Error {}

  const state = {
    timer: null, // the next scheduled refresh
    running: null, // the refresh in flight (a promise)
    again: false, // another refresh was asked for while one ran
    shown: {}, // panel -> key of what it shows: redrawn only when that changes
    deciding: new Set(), // approvals decided here, hidden until the server agrees
    sessionsTicket: 0,
    sessionsLimit: SESSIONS_PAGE, // "More" asks for another page
    tasks: [], // the last list the server sent (the filter redraws it)
    taskFilter: "recent", // open | recent (open, and finished within a day) | all
    names: {}, // "platform:chat" -> the chat's name
    tz: null, // the zone Hermes shows times in (cron.timezone)
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

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }

  function localTime(seconds, tz) {
    // "Tue 3 Jun, 08:00 CET": in TZ (the zone the schedules are in) with its name,
    // else in the browser's own zone.
    const options = {
      weekday: "short",
      day: "numeric",
      month: "short",
      hour: "2-digit",
      minute: "2-digit",
    };
    if (tz) {
      options.timeZone = tz;
      options.timeZoneName = "short";
    }
    try {
      return new Date(seconds * 1000).toLocaleString(undefined, options);
    } catch (_) {
      return new Date(seconds * 1000).toLocaleString(); // a zone this browser lacks
    }
  }

  function chatLabel(target) {
    // "Alice (telegram)" for telegram:123 when the platform named the chat; else the id.
    if (!target) return "";
    const [platform, chat, thread] = target.split(":");
    const name = state.names[`${platform}:${chat}`];
    if (!name) return target;
    return `${name} (${platform}${thread ? ` topic ${thread}` : ""})`;
  }

  function chatEl(target, className) {
    const node = el("span", className || "chat", chatLabel(target));
    node.title = target;
    return node;
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

  function timeEl(seconds, className, tz) {
    // <time datetime=ISO>local time</time>, the relative time as its tooltip
    const t = el("time", className, localTime(seconds, tz));
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

  // ----- redrawing --------------------------------------------------------------------

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

  return {
    $,
    VIEW,
    OPEN,
    AuthError,
    state,
    el,
    button,
    badge,
    words,
    plural,
    localTime,
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
  };
})();
