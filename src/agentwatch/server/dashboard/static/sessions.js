// The sessions list: filters apply as they change (no submit), and the rows of running
// sessions refresh themselves. Everything shown goes through textContent.
import * as fmt from "./format.js";

const form = document.getElementById("filters");
const TYPE_DELAY_MS = 350;
const POLL_MS = 5000;
const MAX_POLLS = 720; // an hour of refreshes at most, then a reload shows the rest
const FOCUS_KEY = "agentwatch.sessions.focus";

// -- filters apply at once ----------------------------------------------------------------

function filterUrl() {
  const params = new URLSearchParams();
  const defaults = { sort: "time", order: "desc" };
  for (const [name, value] of new FormData(form)) {
    const text = String(value).trim();
    if (text !== "" && defaults[name] !== text) { params.append(name, text); }
  }
  const query = params.toString();
  return "/sessions" + (query ? "?" + query : "");
}

function apply(field) {
  if (field && field.name) { sessionStorage.setItem(FOCUS_KEY, field.name); }
  const target = filterUrl();
  if (target !== window.location.pathname + window.location.search) { window.location.assign(target); }
}

if (form) {
  let timer = null;
  form.addEventListener("submit", (ev) => { ev.preventDefault(); apply(document.activeElement); });
  form.addEventListener("change", (ev) => { clearTimeout(timer); apply(ev.target); });
  form.addEventListener("input", (ev) => {
    const field = ev.target;
    if (field.tagName !== "INPUT" || !["search", "text", "number"].includes(field.type)) { return; }
    clearTimeout(timer);
    timer = setTimeout(() => apply(field), TYPE_DELAY_MS);
  });
  // Typing goes on where it was after the page came back with the new filter applied.
  const focused = sessionStorage.getItem(FOCUS_KEY);
  sessionStorage.removeItem(FOCUS_KEY);
  const field = focused ? form.elements.namedItem(focused) : null;
  if (field && typeof field.focus === "function") {
    field.focus();
    if (typeof field.value === "string" && field.setSelectionRange && field.type !== "number") {
      field.setSelectionRange(field.value.length, field.value.length);
    }
  }
}

// -- running sessions refresh ------------------------------------------------------------

function runningRows() {
  return Array.from(document.querySelectorAll("table.sessions tbody tr[data-running]"));
}

function setCell(row, field, text) {
  const cell = row.querySelector(`[data-field="${field}"]`);
  if (cell && cell.textContent !== text) { cell.textContent = text; }
}

// As the template draws it: the priced part, then "+N unpriced" (never "$0" for unknown).
function setCost(cell, s) {
  if (!cell) { return; }
  const parts = [fmt.cost(s.cost)];
  if (s.unpriced_llms) {
    const extra = document.createElement("span");
    extra.className = "muted small";
    extra.textContent = "+" + fmt.number(s.unpriced_llms) + " unpriced";
    parts.push(" ", extra);
  }
  cell.replaceChildren(...parts);
  cell.title = fmt.costTotal(s.cost, s.unpriced_llms);
}

function stateBadge(s) {
  const badge = document.createElement("span");
  if (s.end_state === "Indeterminate") {
    badge.className = "state indeterminate";
    badge.textContent = "Ended · ?";
    badge.title = "ended without saying whether it succeeded";
  } else {
    badge.className = "state " + String(s.end_state).toLowerCase();
    badge.textContent = s.end_state;
  }
  return badge;
}

function update(row, s) {
  setCell(row, "duration", fmt.duration(s.duration_seconds));
  setCell(row, "llms", fmt.number(s.counts.llms));
  setCell(row, "tools", fmt.number(s.counts.tools));
  setCell(row, "errors", fmt.number(s.counts.errors));
  setCell(row, "tokens", fmt.number(s.tokens.total));
  setCost(row.querySelector('[data-field="cost"]'), s);
  row.querySelector('[data-field="errors"]')?.classList.toggle("err", s.counts.errors > 0);
  row.classList.toggle("has-errors", s.counts.errors > 0);
  if (!s.running) {
    row.removeAttribute("data-running");
    const cell = row.querySelector("td.c-state");
    if (cell) { cell.replaceChildren(stateBadge(s)); }
  }
}

async function refresh() {
  const rows = runningRows();
  if (!rows.length) { return false; }
  const params = new URLSearchParams({ format: "json", limit: String(rows.length) });
  const project = form ? form.elements.namedItem("project") : null;
  if (project && project.value) { params.set("project", project.value); }
  rows.forEach((row) => params.append("id", row.dataset.sessionId));
  const answer = await fetch("/sessions?" + params.toString(), { headers: { Accept: "application/json" } });
  if (!answer.ok) { return answer.status >= 500; } // a client error will not go away
  const byId = new Map((await answer.json()).sessions.map((s) => [s.id, s]));
  rows.forEach((row) => { const s = byId.get(row.dataset.sessionId); if (s) { update(row, s); } });
  return runningRows().length > 0;
}

let polls = 0;
async function tick() {
  if (document.hidden) { setTimeout(tick, POLL_MS); return; }
  polls += 1;
  let again = true;
  try { again = await refresh(); } catch (_err) { again = true; }
  if (again && polls < MAX_POLLS) { setTimeout(tick, POLL_MS); }
}
if (runningRows().length) { setTimeout(tick, POLL_MS); }
