// The sessions list: pick two sessions (a box on each row) and compare them. The boxes
// are added here, so the list's template stays as it is without JavaScript.
import { el } from "./dom.js";

const table = document.getElementById("sessions");
if (table) { start(table); }

function start(table) {
  const picked = [];
  const bar = el("div", "compare-bar");
  bar.id = "compare-bar";
  const note = el("span", "muted small", "Tick two sessions to compare them.");
  const go = el("a", "button", "Compare");
  go.id = "compare-go";
  go.hidden = true;
  bar.append(note, go);
  table.parentNode.insertBefore(bar, table);

  function update() {
    table.querySelectorAll("input.pick").forEach((box) => { box.checked = picked.includes(box.value); });
    go.hidden = picked.length !== 2;
    if (picked.length === 2) {
      go.href = "/compare?a=" + encodeURIComponent(picked[0]) + "&b=" + encodeURIComponent(picked[1]);
    }
    note.textContent = picked.length === 2 ? "A = " + picked[0].slice(0, 8) + ", B = " + picked[1].slice(0, 8)
      : picked.length === 1 ? "Tick one more session." : "Tick two sessions to compare them.";
  }
  table.querySelectorAll("tbody tr[data-session-id]").forEach((row) => {
    const id = row.getAttribute("data-session-id");
    const box = el("input", "pick");
    box.type = "checkbox";
    box.value = id;
    box.title = "Pick for compare";
    box.setAttribute("aria-label", "Pick session " + id.slice(0, 8) + " for compare");
    box.addEventListener("click", (ev) => ev.stopPropagation());
    box.addEventListener("change", () => {
      const at = picked.indexOf(id);
      if (box.checked && at < 0) { picked.push(id); if (picked.length > 2) { picked.shift(); } }
      if (!box.checked && at >= 0) { picked.splice(at, 1); }
      update();
    });
    const cell = row.querySelector(".sub") || row.cells[0];
    cell.insertBefore(box, cell.firstChild);
  });
  update();
}
