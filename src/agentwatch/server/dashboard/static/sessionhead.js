// The session page's header (state, stats, reason, lost events), redrawn from a session
// summary when the live view learns something new. Agent text is only set as textContent.
import * as fmt from "./format.js";

function setText(id, text) { const n = document.getElementById(id); if (n) { n.textContent = text; } }

// The same line as the template's dropped_text filter (dashboard/render.py).
export function droppedText(counts) {
  const reasons = Object.keys(counts).sort();
  const total = reasons.reduce((sum, r) => sum + counts[r], 0);
  if (!total) { return ""; }
  const parts = reasons.filter((r) => counts[r]).map((r) => r + " " + fmt.number(counts[r]));
  return fmt.number(total) + (total === 1 ? " event" : " events") + " never reached the server (counted by the SDK: " + parts.join(", ") + ")";
}

export function drawHeader(s) {
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
  const live = document.getElementById("live");
  if (live) { live.hidden = !s.running; }
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
