// A session's spans as a tree: the same rules as the server's spantree.py (children in time
// order, orphans and self-parents at the root, a cycle started at its earliest span), for
// the rows the page holds, including those that arrive live.

/** Rows of a tree answer (`columns` + `rows` arrays) as objects keyed by column name. */
export function decodeRows(answer) {
  const cols = answer.columns;
  return answer.rows.map((values) => {
    const row = {};
    for (let i = 0; i < cols.length; i++) { row[cols[i]] = values[i]; }
    return row;
  });
}

function before(a, b) {
  return a.start - b.start || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * `rows` (a Map id -> row) in depth-first tree order: [{row, depth, kids}], `kids` the
 * number of children drawn under the row. Iterative: a 50,000-span chain is fine.
 */
export function treeOrder(rows) {
  const children = new Map();
  const roots = [];
  rows.forEach((row) => {
    const p = row.parent;
    if (p !== null && p !== undefined && p !== row.id && rows.has(p)) {
      let list = children.get(p);
      if (!list) { list = []; children.set(p, list); }
      list.push(row);
    } else {
      roots.push(row);
    }
  });
  children.forEach((list) => list.sort(before));
  roots.sort(before);
  const out = [];
  const seen = new Set();
  const walk = (start) => {
    const stack = [[start, 0]];
    while (stack.length) {
      const [row, depth] = stack.pop();
      if (seen.has(row.id)) { continue; }
      seen.add(row.id);
      const kids = children.get(row.id) || [];
      out.push({ row, depth, kids: kids.length });
      for (let i = kids.length - 1; i >= 0; i--) {
        if (!seen.has(kids[i].id)) { stack.push([kids[i], depth + 1]); }
      }
    }
  };
  roots.forEach(walk);
  if (seen.size < rows.size) {
    // What is left is a cycle or hangs under one: start each cycle at its earliest span.
    const left = Array.from(rows.values()).filter((r) => !seen.has(r.id)).sort(before);
    left.forEach((row) => { if (!seen.has(row.id)) { walk(cycleStart(rows, row)); } });
  }
  return out;
}

function cycleStart(rows, row) {
  const path = new Map();
  let node = row;
  while (!path.has(node.id)) {
    path.set(node.id, path.size);
    node = rows.get(node.parent);
  }
  const from = path.get(node.id);
  const cycle = Array.from(path.keys()).filter((id) => path.get(id) >= from).map((id) => rows.get(id));
  return cycle.sort(before)[0];
}

/**
 * What the list shows of `ordered` (from treeOrder): the rows `keep(row)` accepts, each
 * with the ancestors that lead to it (marked `context`), minus the subtrees under a
 * collapsed row (`collapsed` is a Set of ids). Returns [{row, depth, kids, context}].
 */
export function visibleRows(ordered, keep, collapsed) {
  const out = [];
  const path = []; // [{item, shown}] of the current row's ancestors
  let hideBelow = -1; // depth of a collapsed row whose subtree is being skipped
  for (const item of ordered) {
    if (hideBelow >= 0 && item.depth > hideBelow) { continue; }
    hideBelow = -1;
    path.length = item.depth;
    const entry = { item, shown: false };
    path.push(entry);
    if (keep(item.row)) {
      // Ancestors are shown before their descendants: only the unshown tail of the path.
      let k = path.length - 1;
      while (k >= 0 && !path[k].shown) { k--; }
      for (let m = k + 1; m < path.length; m++) {
        const up = path[m];
        up.shown = true;
        out.push({ row: up.item.row, depth: up.item.depth, kids: up.item.kids, context: up !== entry });
      }
    }
    if (collapsed.has(item.row.id)) { hideBelow = item.depth; }
  }
  return out;
}

/** The rows grouped by agent (in order of their first event), each group in time order. */
export function agentGroups(rows, keep, agentName) {
  const groups = new Map();
  Array.from(rows.values()).filter(keep).sort(before).forEach((row) => {
    const key = row.agent || "";
    if (!groups.has(key)) { groups.set(key, []); }
    groups.get(key).push(row);
  });
  const out = [];
  groups.forEach((list, key) => {
    out.push({ group: key ? agentName(key) : "session", count: list.length });
    list.forEach((row) => out.push({ row, depth: 0, kids: 0, context: false }));
  });
  return out;
}

/** Ids of `rows` that `keep` accepts, in time order (what j/k and "next error" walk). */
export function timeOrder(rows, keep) {
  return Array.from(rows.values()).filter(keep).sort(before).map((r) => r.id);
}

/** The ids of `id`'s ancestors, nearest first (stops at a cycle). */
export function ancestors(rows, id) {
  const out = [];
  const seen = new Set([id]);
  let row = rows.get(id);
  while (row && row.parent && rows.has(row.parent) && !seen.has(row.parent)) {
    out.push(row.parent);
    seen.add(row.parent);
    row = rows.get(row.parent);
  }
  return out;
}
