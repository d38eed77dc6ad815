// The session drilldown: the span tree (collapsible, in time order) with waterfall bars on
// one zoomable time axis, drawn from /sessions/{id}/tree (compact rows, no payloads) into a
// virtualized list; an event's details are loaded when it is selected; a running session
// asks /changes for what is new since its cursor. Every value comes from an agent or an
// LLM: it is only ever set with textContent.
import { el } from "./dom.js";
import * as fmt from "./format.js";
import { jsonTree } from "./jsontree.js";
import { eventDetail } from "./detail.js";
import { drawHeader } from "./sessionhead.js";
import { TimeAxis, bindAxis } from "./timeline.js";
import { agentGroups, ancestors, decodeRows, timeOrder, treeOrder, visibleRows } from "./tree.js";
import { VirtualList } from "./vlist.js";

const POLL_MS = 2000;
const ROW_HEIGHT = 26;
const INDENT_PX = 14;
const V2_CLASSES = { llm: "llms", tool: "tools", action: "actions", error: "errors" };

const head = document.getElementById("session-head");
if (head) { start(head); }

/** The CSS class of a row's kind: the v2 names for the v2 kinds, else the span kind. */
function kindClass(row) { return V2_CLASSES[row.kind] || row.kind || "other"; }

function badgeWord(row) {
  if (row.kind === "other" && row.type) { return row.type; }
  return row.kind || "other";
}

function start(head) {
  const sessionId = head.getAttribute("data-session-id");
  const base = "/sessions/" + encodeURIComponent(sessionId);
  const box = document.getElementById("timeline");
  const detail = document.getElementById("detail");
  const axisNode = document.getElementById("tl-axis");
  const axisTrack = axisNode.querySelector(".tl-track");
  const controls = {
    kind: document.getElementById("f-kind"),
    agent: document.getElementById("f-agent"),
    status: document.getElementById("f-status"),
    group: document.getElementById("group"),
    follow: document.getElementById("follow"),
    count: document.getElementById("row-count"),
    fresh: document.getElementById("new-count"),
  };
  const state = {
    rows: new Map(), agents: new Map(), t0: 0, session: null, cursor: null,
    ordered: [], items: [], index: new Map(), times: [], selected: null,
    collapsed: new Set(), fresh: new Set(), details: new Map(), shown: "",
  };
  const axis = new TimeAxis(() => { axis.drawTicks(axisTrack); list.refresh(); });
  const list = new VirtualList(box, ROW_HEIGHT, drawItem);
  bindAxis(axis, axisNode, box, () => axisTrack);

  function agentName(id) {
    const name = state.agents.get(id);
    return name || "agent " + String(id).slice(0, 8);
  }

  // -- what is shown ---------------------------------------------------------------------
  function keep(row) {
    const kind = controls.kind.value, agent = controls.agent.value, status = controls.status.value;
    if (kind && row.kind !== kind) { return false; }
    if (agent && (row.agent || "") !== agent) { return false; }
    if (status === "error" && !row.error) { return false; }
    if (status && status !== "error" && (row.status !== status || row.error)) { return false; }
    return true;
  }
  function rebuild() {
    const byAgent = controls.group.value === "agent";
    state.ordered = byAgent ? [] : treeOrder(state.rows);
    state.items = byAgent ? agentGroups(state.rows, keep, agentName) : visibleRows(state.ordered, keep, state.collapsed);
    state.index = new Map();
    state.items.forEach((item, i) => { if (item.row) { state.index.set(item.row.id, i); } });
    state.times = timeOrder(state.rows, keep);
    let lo = 0, hi = 1;
    state.rows.forEach((r) => { lo = Math.min(lo, r.start); hi = Math.max(hi, r.end === null ? r.start : r.end); });
    if (state.session && state.session.duration_seconds) { hi = Math.max(hi, state.session.duration_seconds * 1000); }
    axis.setExtent(lo, hi);
    axis.drawTicks(axisTrack);
    list.setItems(state.items);
    const shown = state.times.length; // the events the filters keep (not their context)
    const noun = state.rows.size === 1 ? " event" : " events";
    controls.count.textContent = shown === state.rows.size
      ? fmt.number(shown) + noun
      : fmt.number(shown) + " of " + fmt.number(state.rows.size) + noun;
    if (!state.rows.size) { controls.count.textContent = "No events yet."; }
  }
  function fillFilters() {
    const kinds = new Set(), agents = new Set();
    state.rows.forEach((r) => { kinds.add(r.kind); if (r.agent) { agents.add(r.agent); } });
    refill(controls.kind, Array.from(kinds).sort().map((k) => [k, k]));
    refill(controls.agent, Array.from(agents).map((a) => [a, agentName(a)]).sort((x, y) => x[1].localeCompare(y[1])));
  }
  function refill(select, options) {
    const chosen = select.value;
    const first = select.options[0];
    select.replaceChildren(first);
    options.forEach(([value, text]) => {
      const option = el("option", "", text);
      option.value = value;
      select.appendChild(option);
    });
    select.value = options.some(([v]) => v === chosen) ? chosen : "";
  }

  // -- one row ---------------------------------------------------------------------------
  function drawItem(item) {
    if (item.group !== undefined) {
      return el("div", "tl-lane-name vl-row", item.group + " · " + fmt.number(item.count));
    }
    const row = item.row, k = kindClass(row);
    const node = el("div", "tl-row vl-row " + k);
    node.id = "event-" + row.id;
    node.setAttribute("role", "option");
    node.setAttribute("data-event-id", row.id);
    node.setAttribute("data-kind", row.kind);
    if (row.agent) { node.setAttribute("data-agent", row.agent); }
    node.setAttribute("aria-selected", String(row.id === state.selected));
    if (row.id === state.selected) { node.classList.add("selected"); }
    if (row.error && k !== "errors") { node.classList.add("has-error"); }
    if (item.context) { node.classList.add("context"); }
    if (state.fresh.has(row.id)) { node.classList.add("is-new"); }
    const label = el("div", "tl-label");
    label.style.paddingLeft = (item.depth * INDENT_PX) + "px";
    if (item.kids) {
      const open = !state.collapsed.has(row.id);
      const toggle = el("button", "tl-toggle", open ? "▾" : "▸");
      toggle.type = "button";
      toggle.title = (open ? "Fold " : "Unfold ") + fmt.number(item.kids) + " children";
      toggle.setAttribute("aria-expanded", String(open));
      toggle.addEventListener("click", (ev) => { ev.stopPropagation(); fold(row.id, open); });
      label.appendChild(toggle);
    } else {
      label.appendChild(el("span", "tl-toggle-space"));
    }
    label.appendChild(el("span", "badge " + k, badgeWord(row)));
    label.appendChild(el("span", "tl-name", row.label));
    // The agent is named where it changes: on a row whose parent belongs to another agent.
    const parent = row.parent ? state.rows.get(row.parent) : null;
    if (row.agent && controls.group.value !== "agent" && (!parent || parent.agent !== row.agent)) {
      label.appendChild(el("span", "tl-agent", agentName(row.agent)));
    }
    label.title = row.label;
    const track = el("div", "tl-track");
    const place = axis.place(row.start, row.end);
    if (place) {
      const bar = el("span", "tl-bar " + k + (row.error ? " failed" : ""));
      bar.style.left = place.left + "%";
      bar.style.width = place.width + "%";
      track.appendChild(bar);
    }
    const seconds = row.end === null ? null : (row.end - row.start) / 1000;
    node.append(label, track, el("span", "tl-dur", fmt.duration(seconds)));
    node.addEventListener("click", () => select(row.id, true));
    return node;
  }
  function fold(id, close) {
    if (close) { state.collapsed.add(id); } else { state.collapsed.delete(id); }
    rebuild();
  }

  // -- selection and details -------------------------------------------------------------
  function reveal(id) {
    let opened = false;
    ancestors(state.rows, id).forEach((up) => { if (state.collapsed.delete(up)) { opened = true; } });
    if (opened) { rebuild(); }
  }
  function select(id, scroll) {
    if (!state.rows.has(id)) { return; }
    state.selected = id;
    state.fresh.delete(id);
    reveal(id);
    box.querySelectorAll(".tl-row.selected").forEach((n) => { n.classList.remove("selected"); n.setAttribute("aria-selected", "false"); });
    const i = state.index.get(id);
    if (i !== undefined && scroll) { list.scrollTo(i); }
    const node = i === undefined ? null : list.node(i);
    if (node) {
      node.classList.add("selected");
      node.classList.remove("is-new");
      node.setAttribute("aria-selected", "true");
      if (scroll) { node.scrollIntoView({ block: "nearest" }); }
    }
    if (scroll) { history.replaceState(null, "", "#event-" + id); }
    showDetail(id);
  }
  function showDetail(id) {
    const known = state.details.get(id);
    if (known) { drawDetail(known); return; }
    if (!state.shown.startsWith("loading:" + id)) {
      detail.removeAttribute("data-event-id");
      detail.replaceChildren(el("p", "muted", "Loading the event…"));
      state.shown = "loading:" + id;
    }
    fetchJson(base + "/events/" + encodeURIComponent(id)).then((answer) => {
      state.details.set(id, answer.event);
      if (state.selected === id) { drawDetail(answer.event); }
    }, (err) => {
      if (state.selected === id) { detail.replaceChildren(el("p", "error-msg", "Could not load the event: " + err.message)); state.shown = ""; }
    });
  }
  function drawDetail(ev) {
    const drawn = JSON.stringify(ev);
    if (drawn === state.shown) { return; }
    state.shown = drawn;
    detail.setAttribute("data-event-id", ev.id);
    detail.replaceChildren(eventDetail(ev, {
      sessionStart: state.t0,
      agent: (id) => ({ id, name: agentName(id) }),
      select: (id) => select(id, true),
    }));
  }
  function step(delta) {
    const ids = state.times;
    if (!ids.length) { return; }
    const at = ids.indexOf(state.selected);
    const next = at < 0 ? (delta > 0 ? 0 : ids.length - 1) : Math.max(0, Math.min(ids.length - 1, at + delta));
    select(ids[next], true);
  }
  function nextError(delta) {
    const ids = state.times.filter((id) => state.rows.get(id).error);
    if (!ids.length) { flash("No errors" + (state.times.length < state.rows.size ? " among the events shown" : "")); return; }
    const at = state.times.indexOf(state.selected);
    const order = (id) => state.times.indexOf(id);
    const after = delta > 0 ? ids.find((id) => order(id) > at) : [...ids].reverse().find((id) => order(id) < at);
    select(after !== undefined ? after : ids[delta > 0 ? 0 : ids.length - 1], true);
  }
  function flash(text) {
    const note = document.getElementById("tl-note");
    note.textContent = text;
    window.setTimeout(() => { if (note.textContent === text) { note.textContent = ""; } }, 3000);
  }

  // -- controls and keys -----------------------------------------------------------------
  [controls.kind, controls.agent, controls.status, controls.group].forEach((c) => c.addEventListener("change", rebuild));
  document.getElementById("next-error").addEventListener("click", () => nextError(1));
  document.getElementById("zoom-in").addEventListener("click", () => axis.zoom(0.5));
  document.getElementById("zoom-out").addEventListener("click", () => axis.zoom(2));
  document.getElementById("zoom-reset").addEventListener("click", () => axis.reset());
  document.getElementById("pan-left").addEventListener("click", () => axis.pan(-0.25));
  document.getElementById("pan-right").addEventListener("click", () => axis.pan(0.25));
  document.getElementById("fold-all").addEventListener("click", () => {
    state.ordered.forEach((item) => { if (item.kids) { state.collapsed.add(item.row.id); } });
    rebuild();
  });
  document.getElementById("unfold-all").addEventListener("click", () => { state.collapsed.clear(); rebuild(); });
  controls.follow.addEventListener("change", () => { if (controls.follow.checked) { followNewest(); } });
  document.addEventListener("keydown", (ev) => {
    const tag = (ev.target && ev.target.tagName) || "";
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    const keys = {
      j: () => step(1), ArrowDown: () => step(1), k: () => step(-1), ArrowUp: () => step(-1),
      e: () => nextError(1), E: () => nextError(-1),
      "+": () => axis.zoom(0.5), "=": () => axis.zoom(0.5), "-": () => axis.zoom(2), "0": () => axis.reset(),
      ArrowLeft: () => { if (state.selected) { fold(state.selected, true); } },
      ArrowRight: () => { if (state.selected) { fold(state.selected, false); } },
    };
    const action = keys[ev.key];
    if (action) { ev.preventDefault(); action(); }
  });

  // -- loading and live changes ----------------------------------------------------------
  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then((r) => { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); });
  }
  function takeAgents(list) { (list || []).forEach((a) => { if (a.name) { state.agents.set(a.id, a.name); } }); }
  function followNewest() {
    let newest = null;
    state.rows.forEach((r) => { if (state.index.has(r.id) && (!newest || r.start >= newest.start)) { newest = r; } });
    if (newest) { list.scrollTo(state.index.get(newest.id), "end"); }
  }
  function merge(answer) {
    const rows = decodeRows(answer);
    rows.forEach((row) => {
      if (!state.rows.has(row.id)) { state.fresh.add(row.id); }
      else if (JSON.stringify(state.rows.get(row.id)) !== JSON.stringify(row)) { state.details.delete(row.id); }
      state.rows.set(row.id, row);
    });
    if (answer.session) { state.session = answer.session; drawHeader(answer.session); takeAgents(answer.agents); }
    if (rows.length) {
      fillFilters();
      rebuild();
      controls.fresh.textContent = state.fresh.size ? fmt.number(state.fresh.size) + " new" : "";
      if (controls.follow.checked) { followNewest(); }
      if (state.selected && !state.details.has(state.selected)) { showDetail(state.selected); }
    }
    state.cursor = answer.cursor;
    return answer;
  }
  function poll() {
    fetchJson(base + "/changes?cursor=" + encodeURIComponent(state.cursor)).then((answer) => {
      merge(answer);
      if (answer.more) { poll(); }
      else if (state.session && state.session.running) { window.setTimeout(poll, POLL_MS); }
      else { document.getElementById("follow-box").hidden = true; }
    }, () => { window.setTimeout(poll, POLL_MS * 2); });
  }
  function drawHostEnv() {
    const box = document.getElementById("host-env");
    const pre = box && box.querySelector("pre");
    if (!pre) { return; }
    try { box.replaceChildren(jsonTree(JSON.parse(pre.textContent), { foldOver: 8 })); } catch (_) { /* keep the text */ }
  }

  fetchJson(base + "/tree").then((answer) => {
    state.t0 = answer.t0;
    state.session = answer.session;
    takeAgents(answer.agents);
    decodeRows(answer).forEach((row) => state.rows.set(row.id, row));
    state.cursor = answer.cursor;
    fillFilters();
    rebuild();
    if (answer.truncated) {
      // Said for good, beside the count: the page holds the first events only.
      document.getElementById("row-count").after(el("span", "tl-note", "(only the first " + fmt.number(state.rows.size) + " of " + fmt.number(answer.session.event_count) + " events)"));
    }
    box.setAttribute("data-ready", "true");
    window.__treeDrawnAt = performance.now();
    drawHostEnv();
    const hash = window.location.hash;
    if (hash.indexOf("#event-") === 0) { select(decodeURIComponent(hash.slice(7)), true); }
    if (answer.session.running) {
      document.getElementById("follow-box").hidden = false;
      window.setTimeout(poll, POLL_MS);
    }
  }, (err) => {
    box.replaceChildren(el("p", "error-msg", "Could not load the events: " + err.message));
  });
  window.addEventListener("hashchange", () => {
    const hash = window.location.hash;
    if (hash.indexOf("#event-") === 0) { select(decodeURIComponent(hash.slice(7)), false); }
  });
}
