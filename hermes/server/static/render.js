// Hermes web chat: how messages, tool lines and approval buttons look.
// Plain JS, no build step. Every piece of user or model text goes into the page
// through textContent / text nodes, never as HTML. app.js uses window.hermesRender.
"use strict";

(() => {
  const APPROVAL = /^(?:approve|deny):(.{1,128})$/;
  const TOOL_ICON = { running: "⚙", waiting: "⏸", done: "✓", error: "✗" };
  const TOOL_STATE = { running: "running", waiting: "waiting", done: "done", error: "failed" };
  const DECIDED = { approved: "✅ Approved", denied: "❌ Denied", cancelled: "⏹ Cancelled" };

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

  function bubble(role, text, opts = {}) {
    // One message: <li class="msg user|assistant"><div class="bubble">…</div></li>.
    // opts: history, at (unix seconds), clientId, buttons (rows of {label, data}), onButton.
    const li = document.createElement("li");
    li.className = `msg ${role === "user" ? "user" : "assistant"}`;
    li.dataset.role = role;
    li.rawText = text;
    if (opts.history) li.dataset.history = "1";
    if (opts.clientId) li.dataset.clientId = opts.clientId;
    if (opts.at) li.title = new Date(opts.at * 1000).toLocaleString();
    const div = document.createElement("div");
    div.className = "bubble";
    renderText(div, text);
    li.append(div);
    if (opts.buttons && opts.buttons.length) addButtons(li, opts.buttons, opts.onButton);
    return li;
  }

  function addButtons(li, rows, onButton) {
    // A row of buttons under a message; an approval's buttons remember its id, so a
    // decision made anywhere replaces them (decided()).
    const box = document.createElement("div");
    box.className = "buttons";
    for (const row of rows) {
      for (const b of row) {
        const found = APPROVAL.exec(b.data || "");
        if (found) box.dataset.approval = found[1];
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = b.label;
        button.addEventListener("click", () => {
          for (const other of box.querySelectorAll("button")) other.disabled = true;
          if (onButton) onButton(b);
        });
        box.append(button);
      }
    }
    li.append(box);
  }

  function decided(root, id, status, by) {
    // The approval `id` was decided (here, in another tab, the CLI, the API...):
    // its buttons become the decision. Returns how many were replaced.
    let n = 0;
    for (const box of root.querySelectorAll(".buttons[data-approval]")) {
      if (box.dataset.approval !== id) continue;
      const span = document.createElement("span");
      span.className = `decision ${status}`;
      span.textContent = `${DECIDED[status] || status}${by ? ` by ${by}` : ""}`;
      box.replaceChildren(span);
      box.dataset.decided = status;
      n++;
    }
    return n;
  }

  function toolBlock(turn) {
    // The tool calls of one turn, each a line that stays once it finished.
    const li = document.createElement("li");
    li.className = "tools";
    if (turn) li.dataset.turn = turn;
    const ul = document.createElement("ul");
    li.append(ul);
    return li;
  }

  function toolLine(block, t) {
    // Add or update the line of call `t.call` ({call, summary, state, seconds?, note?}).
    const ul = block.querySelector("ul");
    let line = [...ul.children].find((el) => el.dataset.call === t.call);
    if (!line) {
      line = document.createElement("li");
      line.dataset.call = t.call;
      const icon = document.createElement("span");
      icon.className = "t-icon";
      const what = document.createElement("code");
      what.className = "t-what";
      const how = document.createElement("span");
      how.className = "t-state";
      line.append(icon, what, how);
      ul.append(line);
    }
    const state = TOOL_STATE[t.state] ? t.state : "running";
    line.className = `tool ${state}`;
    line.dataset.state = state;
    line.querySelector(".t-icon").textContent = TOOL_ICON[state];
    line.querySelector(".t-what").textContent = t.summary || "";
    let how = TOOL_STATE[state];
    if (typeof t.seconds === "number" && (state === "done" || state === "error")) {
      how += ` · ${t.seconds}s`;
    }
    if (state === "waiting" && t.note) how += ` · ${t.note}`;
    line.querySelector(".t-state").textContent = how;
    return line;
  }

  function setNote(li, text, retry) {
    // A line under a message; with `retry`, a failure with a Retry button.
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

  window.hermesRender = {
    renderText, bubble, addButtons, decided, toolBlock, toolLine, setNote,
  };
})();
