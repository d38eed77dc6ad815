// A collapsible JSON tree: each object and array folds (<details>), large ones start
// folded, strings keep their real line breaks, and JSON that arrived as text (tool-call
// arguments, `input.value`, parameters sent as a JSON string) is shown parsed, marked
// "JSON text". Every node can be copied; so can the whole value, exactly as recorded.
import { append, button, el } from "./dom.js";
import { copyButton } from "./clipboard.js";

export const FOLD_OVER = 12; // containers with more entries than this start folded
const FOLD_DEEPER = 6; // ... and so does anything nested deeper than this
const CHILD_PAGE = 500; // entries drawn at a time when a container opens
const STRING_CLIP = 4000; // characters of a long string shown before "Show all"
const PREVIEW = 80; // characters of a folded container's one-line preview
const MAX_JSON_TEXT = 2000000; // longer strings are not parsed on the page

const builders = new WeakMap(); // folded <details> -> builds its children on first open

/**
 * The value held by a string that is JSON text of an object or array, else undefined.
 * Only `{...}` and `[...]` count: "42" or "true" in a string stay strings.
 */
export function parseJsonText(value) {
  if (typeof value !== "string" || value.length > MAX_JSON_TEXT) { return undefined; }
  const text = value.trim();
  const open = text[0], close = text[text.length - 1];
  if (!((open === "{" && close === "}") || (open === "[" && close === "]"))) { return undefined; }
  try {
    const parsed = JSON.parse(text);
    return parsed !== null && typeof parsed === "object" ? parsed : undefined;
  } catch (e) {
    return undefined;
  }
}

/**
 * A `<div class="jt">` showing `value`: a toolbar (expand all, fold all, copy the JSON
 * as recorded) above the tree. `options.foldOver` overrides FOLD_OVER; `options.label`
 * names the value in the toolbar.
 */
export function jsonTree(value, options = {}) {
  const foldOver = options.foldOver ?? FOLD_OVER;
  const root = el("div", "jt");
  const tree = el("div", "jt-tree");
  tree.appendChild(node(null, value, 0, foldOver, true));
  const tools = el("div", "jt-tools");
  if (options.label) { tools.appendChild(el("span", "jt-label", options.label)); }
  if (tree.querySelectorAll("details").length > 1 || tree.querySelector("details:not([open])")) {
    tools.appendChild(button("Expand all", "jt-expand link-btn", () => setOpen(tree, true)));
    tools.appendChild(button("Fold all", "jt-fold link-btn", () => setOpen(tree, false)));
  }
  tools.appendChild(copyButton("Copy JSON", () => asJson(value), "Copy the whole value as JSON, as recorded"));
  return append(root, tools, tree);
}

/** The text a copy gives: a string as it is, anything else as indented JSON. */
export function asJson(value) {
  if (typeof value === "string") { return value; }
  return value === undefined ? "" : JSON.stringify(value, null, 2);
}

function node(key, value, depth, foldOver, isRoot) {
  const parsed = parseJsonText(value);
  if (parsed !== undefined) { return container(key, parsed, depth, foldOver, isRoot, true); }
  if (value !== null && typeof value === "object") { return container(key, value, depth, foldOver, isRoot, false); }
  return leaf(key, value);
}

function keyLabel(key) {
  if (key === null) { return null; }
  return el("span", typeof key === "number" ? "jt-index" : "jt-key", typeof key === "number" ? key : key + ":");
}

function entries(value) {
  return Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.keys(value).map((k) => [k, value[k]]);
}

function container(key, value, depth, foldOver, isRoot, fromText) {
  const items = entries(value);
  const isArray = Array.isArray(value);
  const details = el("details", "jt-node" + (fromText ? " jt-from-text" : ""));
  const summary = el("summary");
  append(summary, keyLabel(key), el("span", "jt-brace", isArray ? "[" : "{"));
  summary.appendChild(el("span", "jt-count", items.length + (isArray ? (items.length === 1 ? " item" : " items") : (items.length === 1 ? " key" : " keys"))));
  summary.appendChild(el("span", "jt-preview", preview(value)));
  if (fromText) { summary.appendChild(el("span", "jt-badge", "JSON text")); }
  summary.appendChild(copyButton("copy", () => asJson(value), "Copy this " + (isArray ? "array" : "object")));
  details.appendChild(summary);
  const build = () => {
    builders.delete(details);
    const list = el("div", "jt-children");
    if (!items.length) { list.appendChild(el("div", "jt-empty", isArray ? "empty array" : "empty object")); }
    moreChildren(list, items, 0, depth, foldOver);
    details.appendChild(list);
  };
  const folded = !isRoot && (items.length > foldOver || depth >= FOLD_DEEPER);
  if (folded) {
    builders.set(details, build);
    details.addEventListener("toggle", () => { if (details.open && builders.has(details)) { builders.get(details)(); } });
  } else {
    build();
    details.open = true;
  }
  return details;
}

// Entries from `start`, CHILD_PAGE at a time: a 100,000-item array costs one page of rows.
function moreChildren(list, items, start, depth, foldOver) {
  const end = Math.min(items.length, start + CHILD_PAGE);
  for (let i = start; i < end; i++) { list.appendChild(node(items[i][0], items[i][1], depth + 1, foldOver, false)); }
  if (end < items.length) {
    const more = button("Show " + Math.min(CHILD_PAGE, items.length - end) + " more of " + (items.length - end).toLocaleString("en-US"), "link-btn jt-more-items", () => {
      more.remove();
      moreChildren(list, items, end, depth, foldOver);
    });
    list.appendChild(more);
  }
}

function leaf(key, value) {
  const row = el("div", "jt-leaf");
  if (key !== null) { row.appendChild(keyLabel(key)); }
  row.appendChild(scalar(value));
  if (typeof value === "string" && (value.length > 40 || value.includes("\n"))) {
    row.appendChild(copyButton("copy", () => value, "Copy this text"));
  }
  return row;
}

function scalar(value) {
  if (typeof value === "string") { return stringNode(value); }
  if (value === null || value === undefined) { return el("span", "jt-null", "null"); }
  if (typeof value === "boolean") { return el("span", "jt-bool", String(value)); }
  if (typeof value === "number") { return el("span", "jt-num", String(value)); }
  return el("span", "jt-other", String(value));
}

// A string as a reader wants it: one line in quotes, or its lines as they are; never
// JSON-escaped (\n, \" ...). Copying gives the exact value.
function stringNode(text) {
  const multi = text.includes("\n");
  const show = (t) => (multi ? t : "\"" + t + "\"");
  const span = el("span", "jt-str" + (multi ? " jt-multiline" : ""));
  if (text.length <= STRING_CLIP) {
    span.textContent = show(text);
    return span;
  }
  span.textContent = show(text.slice(0, STRING_CLIP) + " …");
  const wrap = el("span", "jt-long");
  const more = button("Show all " + text.length.toLocaleString("en-US") + " characters", "link-btn jt-more", () => {
    span.textContent = show(text);
    more.remove();
  });
  return append(wrap, span, more);
}

// A folded container's one line: `{city: "Rome", days: 2, stops: […]}`; the first of
// nested containers is opened one level (`[{leg: 0, to: "LIS"}, {…}, …]`).
function preview(value, nested = false) {
  const isArray = Array.isArray(value);
  const parts = [];
  let length = 0;
  for (const [k, v] of entries(value)) {
    const inner = v !== null && typeof v === "object";
    const shown = inner ? (!nested && !parts.length ? preview(v, true) : Array.isArray(v) ? "[…]" : "{…}") : (JSON.stringify(v) ?? String(v));
    const part = isArray ? shown : k + ": " + shown;
    parts.push(part);
    length += part.length + 2;
    if (length > PREVIEW) { break; }
  }
  const text = (isArray ? "[" : "{") + parts.join(", ") + (isArray ? "]" : "}");
  return text.length > PREVIEW ? text.slice(0, PREVIEW - 1) + "…" : text;
}

function setOpen(tree, open) {
  // Opening builds folded children first, so "Expand all" reaches every level.
  const visit = (details) => {
    if (open && builders.has(details)) { builders.get(details)(); }
    details.open = open;
    details.querySelectorAll(":scope > .jt-children > details").forEach(visit);
  };
  tree.querySelectorAll(":scope > details").forEach(visit);
}
