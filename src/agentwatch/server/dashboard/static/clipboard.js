// Copy to the clipboard, with a confirmation the user can see.
import { button } from "./dom.js";

const CONFIRM_MS = 1600;

/**
 * Put `text` on the clipboard. The async API needs a secure context (https or
 * localhost); a dashboard reached over plain http by address falls back to a selection.
 */
export function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    return navigator.clipboard.writeText(text);
  }
  return new Promise((resolve, reject) => {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    if (ok) { resolve(); } else { reject(new Error("copy refused")); }
  });
}

/**
 * A button that copies `getText()` and says "Copied" (or "Copy failed") for a moment.
 * Its click does not reach a surrounding <summary>, so it never folds a tree node.
 */
export function copyButton(label, getText, title) {
  const node = button(label, "copy-btn");
  node.title = title || "Copy to the clipboard";
  node.setAttribute("aria-live", "polite");
  let timer = 0;
  node.addEventListener("click", (event) => {
    event.preventDefault();
    event.stopPropagation();
    const settle = (text, cls) => {
      node.textContent = text;
      node.classList.remove("copied", "copy-failed");
      node.classList.add(cls);
      window.clearTimeout(timer);
      timer = window.setTimeout(() => { node.textContent = label; node.classList.remove(cls); }, CONFIRM_MS);
    };
    copyText(getText()).then(() => settle("Copied ✓", "copied"), () => settle("Copy failed", "copy-failed"));
  });
  return node;
}
