// A virtualized list: rows of one height in a scrolling box, of which only those in view
// (and a few around them) are in the DOM. Positions are set through the CSSOM
// (node.style.top), which the page's strict CSP allows (it forbids style attributes).

const OVERSCAN = 8;

export class VirtualList {
  /**
   * `box`: the scrolling element; `rowHeight` in px; `draw(item, index)` returns the
   * node of one item (called again whenever the item comes back into view).
   */
  constructor(box, rowHeight, draw) {
    this.box = box;
    this.rowHeight = rowHeight;
    this.draw = draw;
    this.items = [];
    this.spacer = document.createElement("div");
    this.spacer.className = "vl-spacer";
    this.box.replaceChildren(this.spacer);
    this.drawn = new Map(); // index -> node
    this.frame = 0;
    this.box.addEventListener("scroll", () => this.schedule());
    window.addEventListener("resize", () => this.schedule());
  }

  /** Show `items` (drawn nodes are rebuilt: an item at an index may have changed). */
  setItems(items) {
    this.items = items;
    this.spacer.style.height = (items.length * this.rowHeight) + "px";
    this.drawn.forEach((node) => node.remove());
    this.drawn.clear();
    this.render();
  }

  /** Redraw the rows in view (after a change that `draw` reflects, like a zoom). */
  refresh() {
    this.drawn.forEach((node) => node.remove());
    this.drawn.clear();
    this.render();
  }

  schedule() {
    if (this.frame) { return; }
    this.frame = window.requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  range() {
    const top = this.box.scrollTop;
    const height = this.box.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / this.rowHeight) - OVERSCAN);
    const last = Math.min(this.items.length - 1, Math.ceil((top + height) / this.rowHeight) + OVERSCAN);
    return [first, last];
  }

  render() {
    const [first, last] = this.range();
    this.drawn.forEach((node, i) => {
      if (i < first || i > last) { node.remove(); this.drawn.delete(i); }
    });
    const fragment = document.createDocumentFragment();
    for (let i = first; i <= last; i++) {
      if (this.drawn.has(i)) { continue; }
      const node = this.draw(this.items[i], i);
      node.style.top = (i * this.rowHeight) + "px";
      this.drawn.set(i, node);
      fragment.appendChild(node);
    }
    this.spacer.appendChild(fragment);
  }

  /**
   * Scroll so that item `index` is in view: only as far as needed for a neighbour, to the
   * middle for a jump (more than a screen away), at the bottom for "end" (follow mode).
   */
  scrollTo(index, where) {
    const top = index * this.rowHeight;
    const box = this.box;
    const far = top < box.scrollTop - box.clientHeight || top > box.scrollTop + 2 * box.clientHeight;
    if (where === "end") {
      box.scrollTop = Math.max(0, top - box.clientHeight + this.rowHeight * 2);
    } else if (far) {
      box.scrollTop = Math.max(0, top - box.clientHeight / 2);
    } else if (top < box.scrollTop) {
      box.scrollTop = top;
    } else if (top + this.rowHeight > box.scrollTop + box.clientHeight) {
      box.scrollTop = top + this.rowHeight - box.clientHeight;
    }
    this.render();
  }

  /** The drawn node of item `index`, if it is in the DOM. */
  node(index) { return this.drawn.get(index) || null; }
}
