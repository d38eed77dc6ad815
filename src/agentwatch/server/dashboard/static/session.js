// The session drilldown: a waterfall of the session's events (lanes by agent) and the
// selected event's details (detail.js), drawn from this page's own JSON (?format=json).
// Every value comes from an agent or an LLM: it is only ever set with textContent.
import { el } from "./dom.js";
import * as fmt from "./format.js";
import { jsonTree } from "./jsontree.js";
import { badgeText, eventDetail, kind, label } from "./detail.js";

const POLL_MS = 2000;

const head = document.getElementById("session-head");
if (head) { start(head); }

function start(head) {
  const sessionId = head.getAttribute("data-session-id");
  const timeline = document.getElementById("timeline");
  const detail = document.getElementById("detail");
  // shown: the selected event as last drawn, so a live reload that left it unchanged
  // keeps the panel as the reader left it (folded nodes, scroll position).
  const state = { data: null, selected: null, byId: {}, shown: "" };

  // -- timeline -----------------------------------------------------------------------
  function agentName(id) {
    const found = state.data.agents.find((a) => a.id === id);
    return (found && found.name) || "agent " + String(id).slice(0, 8);
  }
  function lanes(data) {
    const order = [], groups = {};
    data.events.forEach((ev) => {
      const key = ev.agent_id || "";
      if (!groups[key]) { groups[key] = []; order.push(key); }
      groups[key].push(ev);
    });
    return order.map((key) => ({ name: key ? agentName(key) : "session", events: groups[key] }));
  }
  function span(data) {
    const s = data.session;
    let t0 = fmt.ms(s.init_timestamp), t1 = t0;
    data.events.forEach((ev) => {
      t1 = Math.max(t1, fmt.ms(ev.end_timestamp || ev.init_timestamp), fmt.ms(ev.init_timestamp));
      t0 = Math.min(t0, fmt.ms(ev.init_timestamp));
    });
    if (s.end_timestamp) { t1 = Math.max(t1, fmt.ms(s.end_timestamp)); }
    return { t0, t1: Math.max(t1, t0 + 1) };
  }
  function axis(sp) {
    const row = el("div", "tl-axis");
    row.appendChild(el("div", "tl-label muted small", "time →"));
    const track = el("div", "tl-track");
    const total = (sp.t1 - sp.t0) / 1000;
    for (let i = 0; i <= 4; i++) {
      const tick = el("span", "tick", fmt.duration(total * i / 4));
      tick.style.left = (i * 25) + "%";
      track.appendChild(tick);
    }
    row.appendChild(track);
    return row;
  }
  function eventRow(ev, sp) {
    const k = kind(ev);
    const row = el("div", "tl-row " + k);
    row.id = "event-" + ev.id;
    row.setAttribute("role", "option");
    row.setAttribute("data-event-id", ev.id);
    row.setAttribute("data-kind", k);
    const name = el("div", "tl-label");
    name.appendChild(el("span", "badge " + k, badgeText(ev)));
    name.appendChild(el("span", "tl-name", label(ev)));
    name.title = label(ev);
    const track = el("div", "tl-track");
    const begin = fmt.ms(ev.init_timestamp), end = fmt.ms(ev.end_timestamp || ev.init_timestamp);
    const bar = el("span", "tl-bar " + k);
    const whole = sp.t1 - sp.t0;
    bar.style.left = ((begin - sp.t0) / whole * 100) + "%";
    bar.style.width = Math.max((end - begin) / whole * 100, 0.6) + "%";
    track.appendChild(bar);
    row.append(name, track, el("span", "tl-dur", fmt.duration((end - begin) / 1000)));
    row.addEventListener("click", () => select(ev.id, true));
    return row;
  }
  function drawTimeline(data) {
    timeline.replaceChildren();
    state.byId = {};
    data.events.forEach((ev) => { state.byId[ev.id] = ev; });
    if (!data.events.length) { timeline.appendChild(el("p", "muted", "No events yet.")); return; }
    const sp = span(data);
    timeline.appendChild(axis(sp));
    lanes(data).forEach((lane) => {
      const group = el("div", "tl-lane");
      group.appendChild(el("div", "tl-lane-name", lane.name + " · " + lane.events.length));
      lane.events.forEach((ev) => group.appendChild(eventRow(ev, sp)));
      timeline.appendChild(group);
    });
    if (state.selected && state.byId[state.selected]) { select(state.selected, false); }
  }

  // -- details ------------------------------------------------------------------------
  function showDetail(ev) {
    const drawn = JSON.stringify(ev);
    if (drawn === state.shown) { return; }
    state.shown = drawn;
    detail.replaceChildren(eventDetail(ev, {
      sessionStart: fmt.ms(state.data.session.init_timestamp),
      agent: (id) => ({ id, name: agentName(id) }),
      select: (id) => select(id, true),
    }));
  }
  function select(id, scroll) {
    const ev = state.byId[id];
    if (!ev) { return; }
    state.selected = id;
    timeline.querySelectorAll(".tl-row.selected").forEach((r) => { r.classList.remove("selected"); r.setAttribute("aria-selected", "false"); });
    const row = document.getElementById("event-" + id);
    if (row) {
      row.classList.add("selected");
      row.setAttribute("aria-selected", "true");
      if (scroll) { row.scrollIntoView({ block: "nearest" }); }
    }
    if (scroll) { history.replaceState(null, "", "#event-" + id); }
    showDetail(ev);
  }
  function step(delta) {
    const rows = Array.from(timeline.querySelectorAll(".tl-row"));
    if (!rows.length) { return; }
    const i = rows.findIndex((r) => r.classList.contains("selected"));
    const next = rows[Math.max(0, Math.min(rows.length - 1, i + delta))];
    select(next.getAttribute("data-event-id"), true);
  }
  document.addEventListener("keydown", (ev) => {
    const tag = (ev.target && ev.target.tagName) || "";
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") { return; }
    if (ev.key === "j" || ev.key === "ArrowDown") { ev.preventDefault(); step(1); }
    else if (ev.key === "k" || ev.key === "ArrowUp") { ev.preventDefault(); step(-1); }
  });

  // -- header and live updates --------------------------------------------------------
  function setText(id, text) { const n = document.getElementById(id); if (n) { n.textContent = text; } }
  // The same line as the template's dropped_text filter (dashboard/render.py).
  function droppedText(counts) {
    const reasons = Object.keys(counts).sort();
    const total = reasons.reduce((sum, r) => sum + counts[r], 0);
    if (!total) { return ""; }
    const parts = reasons.filter((r) => counts[r]).map((r) => r + " " + fmt.number(counts[r]));
    return fmt.number(total) + (total === 1 ? " event" : " events") + " never reached the server (counted by the SDK: " + parts.join(", ") + ")";
  }
  function drawHeader(s) {
    setText("stat-duration", fmt.duration(s.duration_seconds));
    setText("stat-cost", fmt.costTotal(s.cost, s.unpriced_llms));
    setText("stat-tokens", fmt.number(s.tokens.total));
    setText("stat-llms", fmt.number(s.counts.llms));
    setText("stat-tools", fmt.number(s.counts.tools));
    setText("stat-actions", fmt.number(s.counts.actions));
    setText("stat-errors", fmt.number(s.counts.errors));
    const badge = document.getElementById("state");
    if (badge) {
      badge.textContent = s.running ? "Running" : s.end_state;
      badge.className = "state " + (s.running ? "running" : String(s.end_state).toLowerCase());
    }
    document.getElementById("live").hidden = !s.running;
    const dropped = document.getElementById("dropped");
    if (dropped) {
      dropped.textContent = droppedText(s.dropped_events || {});
      dropped.hidden = !dropped.textContent;
    }
    const reason = document.getElementById("reason");
    if (reason) {
      const text = s.end_state_reason || "";
      reason.textContent = text.length > 2000 ? text.slice(0, 1999) + "…" : text;
      reason.className = "reason-full " + String(s.end_state).toLowerCase();
      reason.hidden = !text;
    }
  }
  // The host environment as a tree, in place of the page's plain <pre> (no-script view).
  function drawHostEnv(s) {
    const box = document.getElementById("host-env");
    if (box && s.host_env) { box.replaceChildren(jsonTree(s.host_env, { foldOver: 8 })); }
  }
  function signature(d) {
    const s = d.session;
    return [d.events.length, s.end_state, s.event_count, s.last_event_at, JSON.stringify(s.dropped_events)].join("|");
  }
  function load() {
    return fetch("/sessions/" + encodeURIComponent(sessionId) + "?format=json", { credentials: "same-origin", cache: "no-store" })
      .then((r) => { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then((data) => {
        const changed = !state.data || signature(state.data) !== signature(data);
        const first = !state.data;
        state.data = data;
        if (first) { drawHostEnv(data.session); }
        if (changed) { drawHeader(data.session); drawTimeline(data); }
        return data;
      });
  }
  function poll() {
    load().then((data) => {
      if (data.session.running) { window.setTimeout(poll, POLL_MS); }
    }, () => { window.setTimeout(poll, POLL_MS * 2); });
  }
  load().then((data) => {
    const hash = window.location.hash;
    if (hash.indexOf("#event-") === 0) { select(hash.slice(7), true); }
    if (data.session.running) { window.setTimeout(poll, POLL_MS); }
  }, (err) => {
    timeline.replaceChildren(el("p", "error-msg", "Could not load the events: " + err.message));
  });
  window.addEventListener("hashchange", () => {
    const hash = window.location.hash;
    if (hash.indexOf("#event-") === 0) { select(hash.slice(7), false); }
  });
}
