// What an LLM event says about its call beyond the messages: streaming and time to first
// token, request parameters, the tools offered, the stop reason. Read from the fields our
// SDK's instrumentation sets (`params` = the call's keyword arguments, `time_to_first_token`,
// `stop_reason`, `gen_ai` attributes) and from span attributes of OpenTelemetry clients
// (`gen_ai.request.*`, OpenInference `llm.invocation_parameters`, `llm.tools.N.*`).
import { append, el } from "./dom.js";
import * as fmt from "./format.js";
import { jsonTree, parseJsonText } from "./jsontree.js";
import { keyValues, richText } from "./content.js";

// Request arguments shown elsewhere: content in Prompt, tools in their own section,
// the model and `stream` among the facts.
const NOT_PARAMETERS = new Set(["messages", "input", "prompt", "system", "instructions", "model", "tools", "functions", "stream"]);
const REQUEST_PREFIX = "gen_ai.request.";

function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }
function jsonish(v) { const parsed = parseJsonText(v); return parsed === undefined ? v : parsed; }

/** The event's attributes, flat: OpenTelemetry span attributes, then our SDK's `gen_ai`. */
export function attributesOf(ev) {
  return Object.assign({}, isObject(ev.attributes) ? ev.attributes : {}, isObject(ev.gen_ai) ? ev.gen_ai : {});
}

function invocation(attrs) {
  const parsed = jsonish(attrs["llm.invocation_parameters"]);
  return isObject(parsed) ? parsed : {};
}

/**
 * The request parameters (temperature, max_tokens, tool_choice, ...). The call's own
 * arguments when the SDK recorded them, else what span attributes tell.
 */
export function requestParameters(ev) {
  const out = {};
  if (isObject(ev.params)) {
    Object.keys(ev.params).forEach((k) => { if (!NOT_PARAMETERS.has(k)) { out[k] = ev.params[k]; } });
    return out;
  }
  const attrs = attributesOf(ev);
  const named = invocation(attrs);
  Object.keys(named).forEach((k) => { if (!NOT_PARAMETERS.has(k)) { out[k] = named[k]; } });
  Object.keys(attrs).forEach((k) => {
    const name = k.slice(REQUEST_PREFIX.length);
    if (k.startsWith(REQUEST_PREFIX) && !NOT_PARAMETERS.has(name) && name !== "streaming" && !(name in out)) { out[name] = attrs[k]; }
  });
  return out;
}

/** True or false when the event tells whether the answer was streamed, else null. */
export function streamed(ev) {
  const attrs = attributesOf(ev);
  const params = isObject(ev.params) ? ev.params : invocation(attrs);
  if (typeof params.stream === "boolean") { return params.stream; }
  if (typeof attrs["gen_ai.request.streaming"] === "boolean") { return attrs["gen_ai.request.streaming"]; }
  if (timeToFirstToken(ev) !== null) { return true; }
  // Our instrumentation (the one that sets `gen_ai`) records every argument of the call:
  // no `stream` among them is no stream. A hand-made event's params may just not say.
  return isObject(ev.params) && isObject(ev.gen_ai) ? false : null;
}

/** Seconds from the request to the first output chunk, or null. */
export function timeToFirstToken(ev) {
  const attrs = attributesOf(ev);
  const value = ev.time_to_first_token ?? attrs["gen_ai.streaming.time_to_first_token"] ?? attrs["gen_ai.server.time_to_first_token"];
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** The provider's stop (finish) reason, or null. */
export function stopReason(ev) {
  if (ev.stop_reason) { return String(ev.stop_reason); }
  const reasons = jsonish(attributesOf(ev)["gen_ai.response.finish_reasons"]);
  if (Array.isArray(reasons) && reasons.length) { return reasons.map(String).join(", "); }
  return typeof reasons === "string" && reasons ? reasons : null;
}

/** The tools offered to the model, each as {name, description, schema, definition}. */
export function toolDefinitions(ev) {
  const attrs = attributesOf(ev);
  const defs = [];
  const add = (list) => { if (Array.isArray(list)) { list.forEach((d) => { const t = jsonish(d); if (isObject(t)) { defs.push(t); } }); } };
  if (isObject(ev.params)) { add(ev.params.tools); add(ev.params.functions); }
  if (!defs.length) { add(jsonish(attrs["gen_ai.tool.definitions"])); }
  if (!defs.length) {
    const numbered = Object.keys(attrs).filter((k) => /^llm\.tools\.\d+\.tool\.json_schema$/.test(k));
    numbered.sort((a, b) => parseInt(a.split(".")[2], 10) - parseInt(b.split(".")[2], 10));
    add(numbered.map((k) => attrs[k]));
  }
  return defs.map(normalTool);
}

// OpenAI chat {type, function: {name, description, parameters}}, OpenAI responses and
// GenAI {type, name, description, parameters}, Anthropic {name, description, input_schema}.
function normalTool(def) {
  const f = isObject(def.function) ? def.function : def;
  return {
    name: String(f.name || def.type || "(unnamed tool)"),
    description: typeof f.description === "string" ? f.description : "",
    schema: f.parameters ?? f.input_schema ?? f.inputSchema ?? null,
    definition: def,
  };
}

/**
 * The facts of an LLM call as [label, text, title] rows, in reading order; rows the
 * event says nothing about are left out.
 */
export function llmFacts(ev) {
  const attrs = attributesOf(ev);
  const rows = [];
  const add = (label, text, title) => { if (text !== null && text !== undefined && text !== "") { rows.push([label, String(text), title || ""]); } };
  const requested = isObject(ev.params) ? ev.params.model : attrs["gen_ai.request.model"];
  add("Model", ev.model || requested || attrs["gen_ai.response.model"]);
  if (requested && ev.model && requested !== ev.model) { add("Requested model", requested); }
  add("Provider", attrs["gen_ai.provider.name"] || attrs["gen_ai.system"] || attrs["llm.provider"]);
  const stream = streamed(ev);
  add("Streaming", stream === null ? null : stream ? "yes" : "no");
  const ttft = timeToFirstToken(ev);
  add("Time to first token", ttft === null ? null : fmt.duration(ttft));
  const estimated = ev.tokens_estimated ? " (estimated)" : "";
  add("Prompt tokens", ev.prompt_tokens === null || ev.prompt_tokens === undefined ? null : fmt.number(ev.prompt_tokens) + estimated);
  add("Completion tokens", ev.completion_tokens === null || ev.completion_tokens === undefined ? null : fmt.number(ev.completion_tokens) + estimated);
  if (ev.cached_tokens) { add("Cached tokens", fmt.number(ev.cached_tokens), "part of the prompt tokens, served from the provider's cache"); }
  add("Cost", ev.cost === null || ev.cost === undefined ? "unknown" : fmt.cost(ev.cost), ev.cost === null ? "no price known for this model" : "");
  add("Stop reason", stopReason(ev));
  add("Response id", attrs["gen_ai.response.id"]);
  return rows;
}

/** "Request parameters" and "Tools offered" sections of an LLM event (those it has). */
export function llmSections(ev) {
  const out = [];
  const params = requestParameters(ev);
  if (Object.keys(params).length) {
    const box = el("section", "kv llm-params");
    out.push(append(box, el("h3", "", "Request parameters"), keyValues(params)));
  }
  const tools = toolDefinitions(ev);
  if (tools.length) {
    const box = el("section", "kv llm-tools");
    box.appendChild(el("h3", "", "Tools offered (" + tools.length + ")"));
    tools.forEach((tool) => box.appendChild(toolDefinition(tool)));
    out.push(box);
  }
  return out;
}

function toolDefinition(tool) {
  const details = el("details", "tool-def");
  const summary = el("summary");
  summary.appendChild(el("code", "tool-name", tool.name));
  // The one line under the name is plain text: markdown's ** and ` would only be noise.
  const firstLine = tool.description.split("\n")[0].replace(/\*\*|`/g, "");
  if (firstLine) { summary.appendChild(el("span", "tool-desc", firstLine.length > 120 ? firstLine.slice(0, 119) + "…" : firstLine)); }
  details.appendChild(summary);
  if (tool.description) { details.appendChild(richText(tool.description)); }
  details.appendChild(jsonTree(tool.schema ?? tool.definition, { label: tool.schema ? "parameters (JSON Schema)" : "definition" }));
  return details;
}
