// Building DOM nodes. Every text that may come from an agent or an LLM goes through
// textContent (never innerHTML), so nothing it holds is ever parsed as HTML.

/** A new `tag` element with class `cls` and, unless null/undefined, `text` as its text. */
export function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) { node.className = cls; }
  if (text !== undefined && text !== null) { node.textContent = String(text); }
  return node;
}

/** A `<button type="button">` that calls `onClick(event)`. */
export function button(label, cls, onClick) {
  const node = el("button", cls, label);
  node.type = "button";
  if (onClick) { node.addEventListener("click", onClick); }
  return node;
}

/** `parent` with `children` appended (null and undefined children are skipped). */
export function append(parent, ...children) {
  children.forEach((child) => { if (child !== null && child !== undefined) { parent.appendChild(child); } });
  return parent;
}
