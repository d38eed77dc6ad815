// What agents and LLMs wrote, made readable: chat messages with markdown, tool calls
// with their arguments parsed, any value as a JSON tree or as text with its line breaks.
// Built from dom.js nodes only: no agent text is ever parsed as HTML.
import { append, button, el } from "./dom.js";
import { jsonTree, parseJsonText } from "./jsontree.js";
import { renderMarkdown } from "./markdown.js";

export const TEXT_LIMIT = 20000; // characters drawn before "Show all"

const TEXT_PARTS = new Set(["text", "input_text", "output_text"]);
const IMAGE_PARTS = new Set(["image_url", "image", "input_image", "image_file"]);
const MESSAGE_KEYS = new Set(["role", "content", "name", "tool_calls", "tool_call_id", "function_call", "parts"]);

function isObject(v) { return v !== null && typeof v === "object" && !Array.isArray(v); }

// `draw(text)` of the first TEXT_LIMIT characters, and a button that draws them all.
function limited(text, draw) {
  const wrap = el("div", "limited");
  if (text.length <= TEXT_LIMIT) { return append(wrap, draw(text)); }
  const shown = draw(text.slice(0, TEXT_LIMIT) + " …");
  const more = button("Show all " + text.length.toLocaleString("en-US") + " characters", "secondary small show-all", () => {
    wrap.replaceChildren(draw(text));
  });
  return append(wrap, shown, more);
}

/** Text with its real line breaks, wrapped (no markdown). */
export function plainText(text, cls) {
  return limited(String(text), (t) => el("div", "plain-text" + (cls ? " " + cls : ""), t));
}

/** Text an LLM read or wrote: rendered markdown, with a switch to the source text. */
export function richText(text) {
  const source = String(text);
  const wrap = el("div", "rich");
  const body = el("div", "rich-body");
  let raw = false;
  const draw = () => body.replaceChildren(raw ? plainText(source, "source") : limited(source, renderMarkdown));
  const toggle = button("Source", "link-btn rich-toggle", () => {
    raw = !raw;
    toggle.textContent = raw ? "Formatted" : "Source";
    draw();
  });
  toggle.title = "Switch between the formatted text and its source";
  draw();
  return append(wrap, toggle, body);
}

/** Any recorded value: objects, arrays and JSON text as a tree; other strings as text. */
export function valueView(value, options) {
  if (value === undefined || value === null) { return el("div", "muted small", "null"); }
  if (typeof value === "string" && parseJsonText(value) === undefined) { return plainText(value); }
  if (typeof value === "object" || typeof value === "string") { return jsonTree(value, options); }
  return el("code", "scalar", String(value));
}

const INLINE_JSON = 60; // objects whose JSON is at most this long stay on their line

/** A `<dl>` of names and values (request parameters): scalars and small objects inline. */
export function keyValues(object) {
  const dl = el("dl", "kv-table");
  Object.keys(object).forEach((key) => {
    const value = object[key];
    const dd = el("dd");
    const json = typeof value === "string" ? null : JSON.stringify(value);
    if (typeof value === "string" && parseJsonText(value) === undefined) { dd.appendChild(el("code", "scalar", value)); }
    else if (json !== null && (json === undefined || json.length <= INLINE_JSON)) { dd.appendChild(el("code", "scalar", String(json))); }
    else { dd.appendChild(jsonTree(value, { foldOver: 4 })); }
    append(dl, el("dt", "", key), dd);
  });
  return dl;
}

// -- chat messages -------------------------------------------------------------------------

/** The messages held by a prompt or completion value, or null when it is not messages. */
export function asMessages(value) {
  const parsed = parseJsonText(value);
  if (parsed !== undefined) { value = parsed; }
  if (Array.isArray(value) && value.every((m) => isObject(m) || typeof m === "string")) { return value; }
  if (isObject(value) && Array.isArray(value.messages)) { return value.messages; }
  if (isObject(value) && ("role" in value || "content" in value || "parts" in value)) { return [value]; }
  return null;
}

/** A prompt or a completion: message cards, or the text / value it is. */
export function messagesView(value) {
  if (value === undefined || value === null) { return el("p", "muted small", "(none)"); }
  const messages = asMessages(value);
  if (!messages) { return typeof value === "string" ? richText(value) : valueView(value); }
  const list = el("div", "messages");
  messages.forEach((m) => list.appendChild(messageCard(m)));
  return list;
}

function messageCard(message) {
  if (typeof message === "string") { message = { role: "message", content: message }; }
  const role = String(message.role || "message");
  const card = el("div", "msg role-" + role.replace(/[^a-z_]/gi, ""));
  const head = el("div", "msg-head");
  head.appendChild(el("span", "role", role));
  if (message.name) { head.appendChild(el("span", "msg-name", message.name)); }
  if (message.tool_call_id) { head.appendChild(el("span", "msg-ref muted small", "result of " + message.tool_call_id)); }
  card.appendChild(head);
  const content = contentView(message.content, role);
  if (content) { card.appendChild(content); }
  if (Array.isArray(message.parts)) { message.parts.forEach((p) => card.appendChild(partView(p, role))); }
  toolCalls(message).forEach((call) => card.appendChild(toolCallView(call)));
  const extra = {};
  Object.keys(message).forEach((k) => { if (!MESSAGE_KEYS.has(k) && message[k] !== null) { extra[k] = message[k]; } });
  if (Object.keys(extra).length) { card.appendChild(jsonTree(extra, { label: "other fields", foldOver: 4 })); }
  return card;
}

function contentView(content, role) {
  if (content === undefined || content === null || content === "") { return null; }
  if (typeof content === "string") {
    if (parseJsonText(content) !== undefined) { return jsonTree(content); }
    return role === "tool" ? plainText(content) : richText(content);
  }
  const parts = Array.isArray(content) ? content : [content];
  const box = el("div", "parts");
  parts.forEach((p) => box.appendChild(partView(p, role)));
  return box;
}

// One content block: OpenAI parts, Anthropic blocks, OpenTelemetry GenAI message parts.
function partView(part, role) {
  if (typeof part === "string") { return contentView(part, role) || el("span"); }
  if (!isObject(part)) { return valueView(part); }
  const type = part.type;
  if (TEXT_PARTS.has(type) || (type === undefined && typeof part.text === "string")) { return contentView(String(part.text ?? ""), role) || el("span"); }
  if (type === "text" && typeof part.content === "string") { return contentView(part.content, role) || el("span"); }
  if (type === "tool_use" || type === "tool_call" || type === "function_call") {
    return toolCallView({ id: part.id || part.call_id, name: part.name, args: part.input ?? part.arguments });
  }
  if (type === "tool_result" || type === "tool_call_response" || type === "function_call_output") {
    const box = el("div", "tool-result");
    box.appendChild(el("div", "part-head", "result of " + (part.tool_use_id || part.id || part.call_id || "a tool call")));
    const body = contentView(part.content ?? part.response ?? part.output, "tool");
    if (body) { box.appendChild(body); }
    return box;
  }
  if (type === "thinking" || type === "reasoning") {
    const box = el("div", "thinking");
    box.appendChild(el("div", "part-head", "thinking"));
    return append(box, richText(String(part.thinking ?? part.content ?? part.text ?? "")));
  }
  if (IMAGE_PARTS.has(type)) { return mediaNote(part); }
  return jsonTree(part, { foldOver: 6 });
}

// An image part is named, never loaded: a URL in it may be an attacker's beacon.
function mediaNote(part) {
  const source = part.image_url?.url ?? part.image_url ?? part.url ?? part.source?.url ?? part.file_id ?? "";
  const text = typeof source === "string" && source.startsWith("data:")
    ? "inline image (" + source.slice(5, source.indexOf(";") > 0 ? source.indexOf(";") : 30) + ", " + Math.round(source.length * 0.75 / 1024) + " KB)"
    : "image: " + (typeof source === "string" ? source : JSON.stringify(source));
  return el("div", "media-note", text);
}

function toolCalls(message) {
  const calls = Array.isArray(message.tool_calls) ? message.tool_calls : [];
  const out = calls.map((c) => (isObject(c) && isObject(c.function)
    ? { id: c.id, name: c.function.name, args: c.function.arguments }
    : { id: c && c.id, name: c && c.name, args: c && (c.arguments ?? c.input) }));
  if (isObject(message.function_call)) { out.push({ name: message.function_call.name, args: message.function_call.arguments }); }
  return out;
}

/** A tool call: its name and id, and its arguments parsed when they are JSON text. */
export function toolCallView(call) {
  const box = el("div", "tool-call");
  const head = el("div", "tool-call-head");
  head.appendChild(el("span", "badge tools", "call"));
  head.appendChild(el("code", "tool-name", call.name || "(unnamed tool)"));
  if (call.id) { head.appendChild(el("span", "muted small", call.id)); }
  box.appendChild(head);
  const args = call.args;
  if (args === undefined || args === null || args === "") { return append(box, el("div", "muted small", "no arguments")); }
  // Streamed arguments can stop short of valid JSON: then they show as the text they are.
  return append(box, typeof args === "string" && parseJsonText(args) === undefined ? plainText(args) : jsonTree(args, { label: "arguments" }));
}
