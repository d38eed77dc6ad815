// How numbers read on the dashboard (the templates' filters in render.py match these).

/** Seconds as "850 ms", "2.4 s", "3m 05s", "1h 02m", "3d 04h"; "–" when unknown (render.py's too). */
export function duration(sec) {
  if (sec === null || sec === undefined || Number.isNaN(sec)) { return "–"; }
  if (sec < 1) { return Math.round(sec * 1000) + " ms"; }
  if (sec < 60) { return sec.toFixed(1) + " s"; }
  const whole = Math.floor(sec);
  const m = Math.floor(whole / 60);
  if (m < 60) { return m + "m " + String(whole % 60).padStart(2, "0") + "s"; }
  const h = Math.floor(m / 60);
  if (h < 48) { return h + "h " + String(m % 60).padStart(2, "0") + "m"; }
  return Math.floor(h / 24).toLocaleString("en-US") + "d " + String(h % 24).padStart(2, "0") + "h";
}

/** An integer with thousands separators; "–" when unknown. */
export function number(n) {
  return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US");
}

/** US dollars to 4 decimals, "<$0.0001" below; "unknown" when no price is known (render.py's too). */
export function cost(c) {
  if (c === null || c === undefined) { return "unknown"; }
  if (c > 0 && c < 0.00005) { return "<$0.0001"; }
  return "$" + c.toLocaleString("en-US", { minimumFractionDigits: 4, maximumFractionDigits: 4 });
}

/** A total's cost with the LLM calls it leaves out, as render.py's cost_total filter. */
export function costTotal(c, unpriced) {
  if (!unpriced) { return cost(c); }
  const calls = number(unpriced) + " unpriced call" + (unpriced === 1 ? "" : "s");
  return c === null || c === undefined ? "unknown (" + calls + ")" : cost(c) + " + " + calls;
}

/** Milliseconds since the epoch of an ISO time; NaN when missing. */
export function ms(iso) { return iso ? Date.parse(iso) : NaN; }

/** `text` cut to `n` characters, with an ellipsis when it was longer. */
export function clip(text, n) {
  const s = typeof text === "string" ? text : (JSON.stringify(text) ?? "");
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}
