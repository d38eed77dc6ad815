// One time axis for the whole waterfall: the window of the session's time in view, which
// zooms (around a point) and pans, and where a span's bar goes in it.
import { el } from "./dom.js";
import * as fmt from "./format.js";

const MIN_SPAN_MS = 1; // the narrowest window: one millisecond across

export class TimeAxis {
  /** `onChange()` is called after every zoom or pan. */
  constructor(onChange) {
    this.onChange = onChange;
    this.lo = 0; this.hi = 1; // the whole session, in ms since its start
    this.from = 0; this.to = 1; // the window in view
  }

  /** The session's whole time range; the window follows it while not zoomed. */
  setExtent(lo, hi) {
    const whole = this.isWhole();
    this.lo = lo;
    this.hi = Math.max(hi, lo + MIN_SPAN_MS);
    if (whole) { this.from = this.lo; this.to = this.hi; } else { this.clamp(); }
  }

  isWhole() { return this.from <= this.lo && this.to >= this.hi; }

  /** Zoom by `factor` (< 1 zooms in) keeping the time at `at` (0..1 across) in place. */
  zoom(factor, at) {
    const where = at === undefined ? 0.5 : Math.min(Math.max(at, 0), 1);
    const span = this.to - this.from;
    const next = Math.min(Math.max(span * factor, MIN_SPAN_MS), this.hi - this.lo);
    const pivot = this.from + span * where;
    this.from = pivot - next * where;
    this.to = this.from + next;
    this.clamp();
    this.onChange();
  }

  /** Move the window by `fraction` of its width (negative: back in time). */
  pan(fraction) {
    const shift = (this.to - this.from) * fraction;
    this.from += shift; this.to += shift;
    this.clamp();
    this.onChange();
  }

  reset() { this.from = this.lo; this.to = this.hi; this.onChange(); }

  clamp() {
    const span = Math.min(this.to - this.from, this.hi - this.lo);
    if (this.from < this.lo) { this.from = this.lo; }
    if (this.from + span > this.hi) { this.from = this.hi - span; }
    this.to = this.from + span;
  }

  /** Percent left and width of a bar from `start` to `end` (ms), or null out of view. */
  place(start, end) {
    const stop = end === null || end === undefined ? start : end;
    if (stop < this.from || start > this.to) { return null; }
    const span = this.to - this.from;
    const left = Math.max(start, this.from), right = Math.min(stop, this.to);
    return { left: (left - this.from) / span * 100, width: Math.max((right - left) / span * 100, 0.4) };
  }

  /** The axis' track: five ticks labelled with the time since the session's start. */
  drawTicks(track) {
    track.replaceChildren();
    const span = this.to - this.from;
    for (let i = 0; i <= 4; i++) {
      const t = this.from + span * i / 4;
      // Windows of a few milliseconds need the fractions to tell ticks apart.
      const text = span < 20 && Math.abs(t) < 1000 ? t.toFixed(span < 2 ? 2 : 1) + " ms" : fmt.duration(t / 1000);
      const tick = el("span", "tick", text);
      tick.style.left = (i * 25) + "%";
      track.appendChild(tick);
    }
  }
}

/**
 * Wheel and drag on the waterfall: on the axis a wheel zooms; on the rows Ctrl/Alt+wheel
 * zooms and Shift+wheel (or a sideways wheel) pans; dragging the axis pans.
 */
export function bindAxis(axis, axisNode, box, trackOf) {
  const fraction = (clientX) => {
    const r = trackOf().getBoundingClientRect();
    return r.width ? (clientX - r.left) / r.width : 0.5;
  };
  axisNode.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    axis.zoom(ev.deltaY < 0 ? 0.8 : 1.25, fraction(ev.clientX));
  }, { passive: false });
  box.addEventListener("wheel", (ev) => {
    if (ev.ctrlKey || ev.altKey) {
      ev.preventDefault();
      axis.zoom(ev.deltaY < 0 ? 0.8 : 1.25, fraction(ev.clientX));
    } else if (ev.shiftKey || Math.abs(ev.deltaX) > Math.abs(ev.deltaY)) {
      ev.preventDefault();
      const delta = Math.abs(ev.deltaX) > Math.abs(ev.deltaY) ? ev.deltaX : ev.deltaY;
      axis.pan(delta > 0 ? 0.1 : -0.1);
    }
  }, { passive: false });
  let dragX = null;
  axisNode.addEventListener("pointerdown", (ev) => { dragX = ev.clientX; axisNode.setPointerCapture(ev.pointerId); });
  axisNode.addEventListener("pointerup", () => { dragX = null; });
  axisNode.addEventListener("pointermove", (ev) => {
    if (dragX === null) { return; }
    const width = trackOf().getBoundingClientRect().width || 1;
    const moved = (dragX - ev.clientX) / width;
    if (Math.abs(moved) > 0.01) { dragX = ev.clientX; axis.pan(moved); }
  });
}
