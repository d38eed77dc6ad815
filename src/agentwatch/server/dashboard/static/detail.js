// One event's details, as the session page shows them beside its timeline.
import { append, el } from "./dom.js";
import * as fmt from "./format.js";
import { jsonTree } from "./jsontree.js";
import { messagesView, plainText, valueView } from "./content.js";
import { llmFacts, llmSections } from "./llm.js";

/** The event's kind for colours and badges: llms, tools, actions, errors or other. */
export function kind(ev) {
  const t = ev.event_type;
  return t === "llms" || t === "tools" || t === "actions" || t === "errors" ? t : "other";
}

/** The badge word of an event: "llm", "tool", "action", "error" or its own type. */
export function badgeText(ev) {
  const k = kind(ev);
  return k === "other" ? String(ev.event_type) : k.slice(0, -1);
}

/** A one-line name for an event (its model, tool, action or error). */
export function label(ev) {
  switch (kind(ev)) {
    case "llms": return ev.model || "LLM call";
    case "tools": return ev.name || "tool";
    case "actions": return ev.action_type || "action";
    case "errors": return (ev.error_type || "Error") + (ev.details ? ": " + fmt.clip(ev.details, 60) : "");
    default: return String(ev.event_type);
  }
}

/** Seconds the event took: the SDK's measured latency for LLM calls, else end − start. */
export function eventSeconds(ev) {
  if (typeof ev.latency === "number") { return ev.latency; }
  return (fmt.ms(ev.end_timestamp || ev.init_timestamp) - fmt.ms(ev.init_timestamp)) / 1000;
}

function field(dl, name, value, title) {
  if (value === null || value === undefined || value === "") { return; }
  const dd = el("dd", "", typeof value === "string" ? value : null);
  if (typeof value !== "string") { dd.appendChild(value); }
  if (title) { dd.title = title; }
  dl.appendChild(append(el("div"), el("dt", "", name), dd));
}

function section(title, body, cls) {
  return append(el("section", "kv" + (cls ? " " + cls : "")), el("h3", "", title), body);
}

function agentNode(agent) {
  const node = el("span", "agent-name", agent.name);
  node.title = "agent " + agent.id;
  return node;
}

/**
 * The detail panel's nodes for `ev`. `page` has what one event does not tell:
 * `sessionStart` (ms since the epoch), `agent(id)` -> {id, name} or null, and
 * `select(eventId)` to follow a link to another event.
 */
export function eventDetail(ev, page) {
  const k = kind(ev);
  const out = document.createDocumentFragment();
  const top = el("div", "detail-head");
  append(top, el("span", "badge " + k, badgeText(ev)), el("h2", "", label(ev)));
  out.appendChild(top);
  out.appendChild(facts(ev, k, page));
  if (k === "llms") {
    out.appendChild(section("Prompt", messagesView(ev.prompt), "chat prompt"));
    out.appendChild(section("Completion", messagesView(ev.completion), "chat completion"));
    llmSections(ev).forEach((node) => out.appendChild(node));
  } else if (k === "errors") {
    if (ev.trigger_event_id) { out.appendChild(triggerLink(ev, page)); }
    out.appendChild(section("Message", valueView(ev.details)));
    if (ev.logs) { out.appendChild(section("Traceback", plainText(String(ev.logs), "traceback"))); }
  } else {
    out.appendChild(section("Parameters", valueView(ev.params, { label: "params" }), "params"));
    out.appendChild(section("Returns", valueView(ev.returns, { label: "returns" }), "returns"));
    if (ev.logs) { out.appendChild(section("Logs", valueView(ev.logs))); }
  }
  if (ev.attributes && typeof ev.attributes === "object") { out.appendChild(section("Attributes", jsonTree(ev.attributes))); }
  out.appendChild(rawData(ev.data));
  return out;
}

function facts(ev, k, page) {
  const dl = el("dl", "facts");
  const start = fmt.ms(ev.init_timestamp);
  field(dl, "Started", "+" + fmt.duration((start - page.sessionStart) / 1000) + "  ·  " + String(ev.init_timestamp).slice(11, 23));
  field(dl, k === "llms" ? "Latency" : "Duration", fmt.duration(eventSeconds(ev)));
  if (k === "llms") { llmFacts(ev).forEach(([name, text, title]) => field(dl, name, text, title)); }
  if (k === "errors") { field(dl, "Type", ev.error_type); field(dl, "Code", ev.code); }
  const agent = ev.agent_id ? page.agent(ev.agent_id) : null;
  if (agent) { field(dl, "Agent", agentNode(agent)); }
  field(dl, "Event id", ev.id);
  return dl;
}

function triggerLink(ev, page) {
  const link = el("a", "button trigger-link", "Go to the " + String(ev.trigger_event_type || "event").replace(/s$/, "") + " that raised it →");
  link.href = "#event-" + ev.trigger_event_id;
  link.id = "trigger-link";
  link.addEventListener("click", (e) => { e.preventDefault(); page.select(ev.trigger_event_id); });
  return link;
}

// Built when first opened: a large event's tree costs nothing until someone asks.
function rawData(data) {
  const raw = el("details", "raw");
  raw.appendChild(el("summary", "", "Everything the SDK sent"));
  raw.addEventListener("toggle", () => {
    if (raw.open && raw.children.length === 1) { raw.appendChild(jsonTree(data, { label: "as sent" })); }
  });
  return raw;
}
