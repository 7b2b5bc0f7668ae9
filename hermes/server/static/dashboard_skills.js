// Hermes dashboard, the Skills panel: changes to skills and memory files that the
// agent proposed (after a long or corrected turn, or the memory nudge), staged until
// you decide. Each pending one shows what it changes (the file, why, a diff of the
// new text) with Apply / Reject; the recently decided ones follow, an applied one
// with Roll back. The rules (a proposal whose file changed since is not applied) are
// the gateway's: this page shows its answers. Uses window.hermesDash
// (dashboard_base.js) and the view's refreshSoon (dashboard.js), which loads
// /api/hermes/skills/proposals with the other panels.
"use strict";

(() => {
  const D = window.hermesDash;
  const { $, state, el, button, badge, relative, notice, call, draw, report } = D;
  const PATH = "/api/hermes/skills/proposals";
  const STATUS_WORDS = { rolled_back: "rolled back" };
  const STATUS_KIND = { applied: "good", rejected: "quiet", stale: "warn", rolled_back: "quiet" };

  function drawSkills(data) {
    const pending = data.pending.filter((p) => !state.skillDeciding.has(p.id));
    for (const id of state.skillDeciding) {
      if (!data.pending.some((p) => p.id === id)) state.skillDeciding.delete(id);
    }
    draw("skills", { pending, recent: data.recent }, (d) => {
      $("skill-proposals").replaceChildren(...d.pending.map(proposalCard));
      $("skills-count").textContent = d.pending.length ? `${d.pending.length} pending` : "";
      $("skills-empty").hidden = d.pending.length > 0;
      $("skills-recent").replaceChildren(...d.recent.map(recentItem));
      $("skills-recent-title").hidden = d.recent.length === 0;
    });
  }

  function diffEl(text) {
    // the unified diff, one line per element: added, removed and hunk lines marked
    const pre = el("pre", "diff");
    for (const line of text.split("\n")) {
      if (!line) continue;
      let kind = "";
      if (line.startsWith("+++") || line.startsWith("---")) kind = "file";
      else if (line.startsWith("+")) kind = "add";
      else if (line.startsWith("-")) kind = "del";
      else if (line.startsWith("@@")) kind = "hunk";
      pre.append(el("span", kind, line));
    }
    return pre;
  }

  function proposalCard(p) {
    const li = el("li", `card proposal kind-${p.kind}`);
    li.dataset.id = p.id;
    const head = el("div", "card-head");
    head.append(badge(p.action, `act-${p.action}`), el("code", "path", p.path));
    head.append(el("code", "id", p.id), el("span", "when", relative(p.created_at)));
    li.append(head, el("p", "summary", p.summary));
    li.append(el("p", "meta", `proposed by ${p.source}`));
    if (p.target_changed) {
      li.append(
        el("p", "error changed", "⚠ The file changed since this was proposed: applying it will not change anything. Reject it."),
      );
    }
    const what = el("details", "change");
    what.open = true;
    what.append(el("summary", "", p.action === "delete" ? "What it removes" : "What it changes"));
    what.append(diffEl(p.diff));
    li.append(what);
    const actions = el("div", "actions");
    actions.append(
      button("Apply", "primary apply", () => decide(p, "apply", li)),
      button("Reject", "danger reject", () => decide(p, "reject", li)),
    );
    li.append(actions);
    return li;
  }

  function recentItem(p) {
    const li = el("li", `recent-proposal st-${p.status}`);
    li.dataset.id = p.id;
    li.append(badge(STATUS_WORDS[p.status] || p.status, STATUS_KIND[p.status] || "quiet"));
    const text = el("span", "summary", p.summary);
    text.title = p.path;
    li.append(text, el("span", "when muted small", relative(p.decided_at || p.created_at)));
    if (p.note) li.append(el("span", "note muted small", p.note));
    if (p.status === "applied") {
      li.append(button("Roll back", "rollback", (e) => rollback(e, p)));
    }
    return li;
  }

  function said(message) {
    const box = $("skills-said");
    box.textContent = message || "";
    box.hidden = !message;
  }

  async function decide(p, verb, li) {
    // The card goes at once; the panel shows the gateway's answer after.
    notice(null);
    said(null);
    state.skillDeciding.add(p.id);
    li.remove();
    try {
      const done = await call("POST", `${PATH}/${encodeURIComponent(p.id)}/${verb}`);
      said(done.message);
    } catch (err) {
      state.skillDeciding.delete(p.id);
      report(err); // e.g. stale: the file changed, nothing was written
    }
    state.shown.skills = null;
    D.refreshSoon(0);
  }

  async function rollback(event, p) {
    const what = `Roll back "${p.summary}"? ${p.path} gets back the text it had before.`;
    if (!window.confirm(what)) return;
    event.currentTarget.disabled = true;
    notice(null);
    said(null);
    try {
      const done = await call("POST", `${PATH}/${encodeURIComponent(p.id)}/rollback`);
      said(done.message);
    } catch (err) {
      report(err);
    }
    state.shown.skills = null;
    D.refreshSoon(0);
  }

  state.skillDeciding = new Set(); // proposals decided here, hidden until the server agrees
  D.drawSkills = drawSkills;
})();
