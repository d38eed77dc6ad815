// Markdown for text an LLM or an agent wrote, drawn as DOM nodes.
//
// Safe by construction: nodes are made with createElement and filled with textContent,
// so HTML in the text stays text. Links get an href only for absolute http(s) URLs and
// open with rel="noopener noreferrer"; images are never loaded (a markdown image is a
// classic way to leak a conversation to an attacker's server): they show as a link.
//
// Covered: paragraphs (a line break is a line break, as in chat UIs), ATX headings,
// emphasis, strikethrough, inline code, fenced code blocks with their language, lists
// (nested, ordered, task items), block quotes, tables, rules, links and bare URLs.
import { el } from "./dom.js";
import { copyButton } from "./clipboard.js";

const MAX_DEPTH = 12; // nested quotes/lists deeper than this stay text (hostile input)
const SCAN = 4000; // how far an emphasis or a URL looks for its end, in characters
const LABEL_SCAN = 1000; // ... and a link's [label]

const FENCE = /^( {0,3})(`{3,}|~{3,})\s*([^\s`]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}> ?/;
const ITEM = /^( *)([-*+]|\d{1,9}[.)])(?:[ \t]+(.*))?$/;
const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;
const PUNCT = /[!-/:-@[-`{-~]/;
const WORD = /[\p{L}\p{N}]/u;

/** `text` as a `<div class="md">` of rendered blocks. */
export function renderMarkdown(text) {
  const root = el("div", "md");
  blocks(String(text).replace(/\r\n?/g, "\n").split("\n"), 0).forEach((n) => root.appendChild(n));
  return root;
}

/** The URL as an href when it is an absolute http(s) URL, else null. */
export function safeHref(raw) {
  const text = String(raw).trim();
  if (!/^https?:\/\//i.test(text)) { return null; }
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (e) {
    return null;
  }
}

// -- blocks ------------------------------------------------------------------------------

function blank(line) { return /^\s*$/.test(line); }
function indentOf(line) { return line.length - line.replace(/^ +/, "").length; }

function startsBlock(line) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line);
}

function blocks(lines, depth) {
  const out = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (blank(line)) { i++; continue; }
    const step = depth < MAX_DEPTH ? block(lines, i, depth) : null;
    if (step) { out.push(step.node); i = step.next; continue; }
    const para = paragraph(lines, i);
    out.push(para.node);
    i = para.next;
  }
  return out;
}

function block(lines, i, depth) {
  const line = lines[i];
  if (FENCE.test(line)) { return fenced(lines, i); }
  const h = HEADING.exec(line);
  if (h) { return { node: heading(h[1].length, h[2] || ""), next: i + 1 }; }
  if (RULE.test(line)) { return { node: el("hr"), next: i + 1 }; }
  if (QUOTE.test(line)) { return quote(lines, i, depth); }
  if (ITEM.test(line)) { return list(lines, i, depth); }
  if (tableAt(lines, i)) { return table(lines, i); }
  return null;
}

function tableAt(lines, i) {
  return i + 1 < lines.length && lines[i].includes("|") && TABLE_SEP.test(lines[i + 1]) &&
    cells(lines[i]).length === cells(lines[i + 1]).length;
}

function heading(level, text) {
  const node = el("h" + level, "md-h md-h" + level);
  node.appendChild(inline(text, 0));
  return node;
}

function paragraph(lines, i) {
  const taken = [lines[i]];
  let j = i + 1;
  while (j < lines.length && !blank(lines[j]) && !startsBlock(lines[j]) && !tableAt(lines, j)) { taken.push(lines[j]); j++; }
  const p = el("p");
  p.appendChild(inline(taken.map((l) => l.replace(/^\s+/, "")).join("\n"), 0));
  return { node: p, next: j };
}

function fenced(lines, i) {
  const open = FENCE.exec(lines[i]);
  const indent = open[1].length, mark = open[2], lang = open[3];
  const body = [];
  let j = i + 1;
  for (; j < lines.length; j++) {
    const close = /^ {0,3}(`{3,}|~{3,})\s*$/.exec(lines[j]);
    if (close && close[1][0] === mark[0] && close[1].length >= mark.length) { j++; break; }
    body.push(lines[j].slice(Math.min(indent, indentOf(lines[j]))));
  }
  return { node: codeBlock(body.join("\n"), lang), next: j };
}

/** A code block: monospace, its language (when given) and a copy button above it. */
export function codeBlock(code, lang) {
  const wrap = el("div", "md-code");
  const head = el("div", "md-code-head");
  head.appendChild(el("span", "md-lang", lang || "code"));
  head.appendChild(copyButton("Copy", () => code, "Copy this code"));
  const pre = el("pre");
  const inner = el("code", "", code);
  if (lang) { inner.setAttribute("data-lang", lang); }
  pre.appendChild(inner);
  wrap.appendChild(head);
  wrap.appendChild(pre);
  return wrap;
}

function quote(lines, i, depth) {
  const inner = [];
  let j = i;
  while (j < lines.length && QUOTE.test(lines[j])) { inner.push(lines[j].replace(QUOTE, "")); j++; }
  const node = el("blockquote");
  blocks(inner, depth + 1).forEach((n) => node.appendChild(n));
  return { node, next: j };
}

function list(lines, i, depth) {
  const first = ITEM.exec(lines[i]);
  const ordered = /\d/.test(first[2]);
  const node = el(ordered ? "ol" : "ul");
  if (ordered && parseInt(first[2], 10) !== 1) { node.start = parseInt(first[2], 10); }
  let j = i;
  while (j < lines.length) {
    const m = ITEM.exec(lines[j]);
    if (!m || /\d/.test(m[2]) !== ordered) { break; }
    const item = listItem(lines, j, m);
    node.appendChild(renderItem(item.lines, depth));
    j = item.next;
    if (j < lines.length && blank(lines[j])) {
      // A blank line ends the list unless another item of it follows.
      let k = j;
      while (k < lines.length && blank(lines[k])) { k++; }
      const next = k < lines.length ? ITEM.exec(lines[k]) : null;
      if (!next || next[1].length > m[1].length + 1) { break; }
      j = k;
    }
  }
  return { node, next: j };
}

// One item's lines, relative to its content column; nested items indented past its
// marker belong to it (LLMs indent nested lists by 2, 3 or 4 spaces).
function listItem(lines, i, m) {
  const indent = m[1].length;
  const content = indent + m[2].length + 1;
  const own = [m[3] || ""];
  let j = i + 1;
  while (j < lines.length) {
    const line = lines[j];
    if (blank(line)) {
      let k = j;
      while (k < lines.length && blank(lines[k])) { k++; }
      if (k < lines.length && indentOf(lines[k]) >= content) { own.push(""); j++; continue; }
      break;
    }
    const lead = indentOf(line);
    if (lead >= content || (lead > indent && ITEM.test(line))) { own.push(line.slice(Math.min(lead, content))); j++; continue; }
    if (startsBlock(line)) { break; }
    own.push(line.trim()); // a lazy continuation of the item's text
    j++;
  }
  return { lines: own, next: j };
}

function renderItem(lines, depth) {
  const li = el("li");
  const task = /^\[([ xX])\][ \t]+/.exec(lines[0]);
  if (task) {
    li.className = "md-task";
    li.appendChild(el("span", "md-check", task[1] === " " ? "☐ " : "☑ "));
    lines = [lines[0].slice(task[0].length), ...lines.slice(1)];
  }
  blocks(lines, depth + 1).forEach((n) => li.appendChild(n));
  return li;
}

function cells(row) {
  let text = row.trim();
  if (text.startsWith("|")) { text = text.slice(1); }
  if (text.endsWith("|") && !text.endsWith("\\|")) { text = text.slice(0, -1); }
  return text.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, "|"));
}

function table(lines, i) {
  const head = cells(lines[i]);
  const aligns = cells(lines[i + 1]).map((c) => (c.startsWith(":") && c.endsWith(":") ? "center" : c.endsWith(":") ? "right" : ""));
  const wrap = el("div", "md-table");
  const node = el("table");
  const tr = el("tr");
  head.forEach((c, k) => tr.appendChild(cell("th", c, aligns[k])));
  node.appendChild(el("thead")).appendChild(tr);
  const body = node.appendChild(el("tbody"));
  let j = i + 2;
  for (; j < lines.length && !blank(lines[j]) && lines[j].includes("|"); j++) {
    const row = el("tr");
    const values = cells(lines[j]);
    head.forEach((_, k) => row.appendChild(cell("td", values[k] || "", aligns[k])));
    body.appendChild(row);
  }
  wrap.appendChild(node);
  return { node: wrap, next: j };
}

function cell(tag, text, align) {
  const node = el(tag, align ? "align-" + align : "");
  node.appendChild(inline(text, 0));
  return node;
}

// -- inline ------------------------------------------------------------------------------

/** Inline markdown of `text` as a DocumentFragment (line breaks become <br>). */
export function inline(text, depth) {
  const out = document.createDocumentFragment();
  let buf = "";
  const flush = () => { if (buf) { out.appendChild(document.createTextNode(buf)); buf = ""; } };
  const put = (node, next) => { flush(); out.appendChild(node); return next; };
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const found = depth < MAX_DEPTH ? inlineAt(text, i, c, depth) : null;
    if (found) { i = put(found.node, found.next); continue; }
    if (c === "\\" && i + 1 < text.length && PUNCT.test(text[i + 1])) { buf += text[i + 1]; i += 2; continue; }
    if (c === "\n") { buf = buf.replace(/[ \t]+$/, "").replace(/\\$/, ""); i = put(el("br"), i + 1); continue; }
    buf += c;
    i++;
  }
  flush();
  return out;
}

function inlineAt(text, i, c, depth) {
  switch (c) {
    case "`": return codeSpan(text, i);
    case "[": return link(text, i, false, depth);
    case "!": return text[i + 1] === "[" ? link(text, i + 1, true, depth) : null;
    case "<": return autolink(text, i);
    case "h": case "H": return bareUrl(text, i);
    case "*": case "_": case "~": return emphasis(text, i, c, depth);
    default: return null;
  }
}

function run(text, i, c) { let j = i; while (text[j] === c) { j++; } return j - i; }

function codeSpan(text, i) {
  const n = run(text, i, "`");
  let j = text.indexOf("`", i + n);
  while (j !== -1) {
    const m = run(text, j, "`");
    if (m === n) {
      let code = text.slice(i + n, j).replace(/\n/g, " ");
      if (/^ .*[^ ].* $/.test(code)) { code = code.slice(1, -1); }
      return { node: el("code", "md-inline-code", code), next: j + n };
    }
    j = text.indexOf("`", j + m);
  }
  return { node: document.createTextNode("`".repeat(n)), next: i + n };
}

// A run of * _ or ~ that opens and finds its closer; any other run is text, whole.
function emphasis(text, i, c, depth) {
  const n = run(text, i, c);
  const literal = { node: document.createTextNode(c.repeat(n)), next: i + n };
  if (c === "~" ? n !== 2 : n > 3) { return literal; }
  const after = text[i + n];
  if (after === undefined || /\s/.test(after)) { return literal; }
  if (c === "_" && i > 0 && WORD.test(text[i - 1])) { return literal; } // snake_case stays text
  const end = Math.min(text.length, i + n + SCAN);
  for (let j = text.indexOf(c, i + n + 1); j !== -1 && j < end; j = text.indexOf(c, j + run(text, j, c))) {
    const m = run(text, j, c);
    if (m !== n || /\s/.test(text[j - 1])) { continue; }
    if (c === "_" && j + m < text.length && WORD.test(text[j + m])) { continue; }
    return { node: emphasisNode(c, n, inline(text.slice(i + n, j), depth + 1)), next: j + m };
  }
  return literal;
}

function emphasisNode(c, n, inner) {
  if (c === "~") { const s = el("del"); s.appendChild(inner); return s; }
  const outer = el(n === 1 ? "em" : "strong");
  if (n === 3) { const em = el("em"); em.appendChild(inner); outer.appendChild(em); } else { outer.appendChild(inner); }
  return outer;
}

// [label](url "title") or ![alt](url): null when it is not one (then "[" is text).
function link(text, i, image, depth) {
  let level = 0, j = i;
  const end = Math.min(text.length, i + LABEL_SCAN);
  for (; j < end; j++) {
    if (text[j] === "\\") { j++; continue; }
    if (text[j] === "[") { level++; } else if (text[j] === "]" && --level === 0) { break; }
  }
  if (j >= end || text[j + 1] !== "(") { return null; }
  const target = destination(text, j + 2);
  if (!target) { return null; }
  const label = text.slice(i + 1, j);
  const node = image ? imageNode(label, target.url) : linkNode(inline(label, depth + 1), target.url);
  return { node, next: target.next };
}

function destination(text, k) {
  let i = k;
  while (text[i] === " ") { i++; }
  let url = "";
  if (text[i] === "<") {
    const close = text.indexOf(">", i);
    if (close === -1) { return null; }
    url = text.slice(i + 1, close);
    i = close + 1;
  } else {
    let parens = 0;
    for (; i < text.length && !/\s/.test(text[i]); i++) {
      if (text[i] === "(") { parens++; } else if (text[i] === ")") { if (parens === 0) { break; } parens--; }
      url += text[i];
    }
  }
  while (text[i] === " ") { i++; }
  const title = /^("[^"]*"|'[^']*'|\([^)]*\))\s*/.exec(text.slice(i, i + SCAN));
  if (title) { i += title[0].length; }
  return text[i] === ")" ? { url, next: i + 1 } : null;
}

/** A link: an <a> for an http(s) URL, otherwise its label followed by the URL as text. */
export function linkNode(label, url) {
  const href = safeHref(url);
  if (!href) {
    const span = el("span", "md-link-unsafe");
    span.appendChild(label);
    span.appendChild(el("span", "md-url", " (" + url + ")"));
    return span;
  }
  const a = el("a", "md-link");
  a.href = href;
  a.title = href;
  a.target = "_blank";
  a.rel = "noopener noreferrer nofollow";
  a.appendChild(label);
  return a;
}

function imageNode(alt, url) {
  const label = document.createTextNode("image: " + (alt || "(no description)"));
  const node = linkNode(label, url);
  node.classList.add("md-image");
  return node;
}

function autolink(text, i) {
  if (text.slice(i + 1, i + 5).toLowerCase() !== "http") { return null; }
  const m = /^<(https?:\/\/[^\s<>]+)>/i.exec(text.slice(i, i + SCAN));
  return m ? { node: linkNode(document.createTextNode(m[1]), m[1]), next: i + m[0].length } : null;
}

function bareUrl(text, i) {
  if (text.slice(i, i + 4).toLowerCase() !== "http") { return null; }
  if (i > 0 && /[\p{L}\p{N}/]/u.test(text[i - 1])) { return null; }
  const m = /^https?:\/\/[^\s<>"]+/i.exec(text.slice(i, i + SCAN));
  if (!m) { return null; }
  let url = m[0].replace(/[.,:;!?'*_~]+$/, "");
  while (url.endsWith(")") && (url.match(/\(/g) || []).length < (url.match(/\)/g) || []).length) { url = url.slice(0, -1); }
  return { node: linkNode(document.createTextNode(url), url), next: i + url.length };
}
