// The session drilldown: a waterfall of the session's events (lanes by agent) and the
// selected event's details, drawn from this page's own JSON (?format=json).
// Every value comes from an agent or an LLM: it is only ever set with textContent.
"use strict";
(function () {
  var head = document.getElementById("session-head");
  if (!head) { return; }
  var sessionId = head.getAttribute("data-session-id");
  var timeline = document.getElementById("timeline");
  var detail = document.getElementById("detail");
  var state = { data: null, selected: null, byId: {} };
  var POLL_MS = 2000;
  var LIMIT = 20000; // characters shown before "Show all"

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function ms(iso) { return iso ? Date.parse(iso) : NaN; }
  function fmtDur(sec) {
    if (sec === null || sec === undefined || isNaN(sec)) { return "–"; }
    if (sec < 1) { return Math.round(sec * 1000) + " ms"; }
    if (sec < 60) { return sec.toFixed(sec < 10 ? 2 : 1) + " s"; }
    var m = Math.floor(sec / 60); return m + "m " + String(Math.round(sec % 60)).padStart(2, "0") + "s";
  }
  function fmtNum(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"); }
  function fmtCost(c) {
    if (c === null || c === undefined) { return "–"; }
    return c === 0 ? "$0" : (c < 0.01 ? "$" + c.toFixed(6) : c < 1 ? "$" + c.toFixed(4) : "$" + c.toFixed(2));
  }
  function kind(ev) {
    var t = ev.event_type;
    return (t === "llms" || t === "tools" || t === "actions" || t === "errors") ? t : "other";
  }
  function label(ev) {
    switch (kind(ev)) {
      case "llms": return ev.model || "LLM call";
      case "tools": return ev.name || "tool";
      case "actions": return ev.action_type || "action";
      case "errors": return (ev.error_type || "Error") + (ev.details ? ": " + short(ev.details, 60) : "");
      default: return ev.event_type;
    }
  }
  function short(v, n) {
    var s = typeof v === "string" ? v : JSON.stringify(v);
    s = s === undefined ? "" : s;
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  }
  function pretty(v) {
    if (typeof v === "string") {
      try { var parsed = JSON.parse(v); if (parsed && typeof parsed === "object") { return JSON.stringify(parsed, null, 2); } } catch (e) { /* plain text */ }
      return v;
    }
    return JSON.stringify(v, null, 2);
  }
  // A <pre> holding text, cut at LIMIT characters with a button showing the rest.
  function block(text, cls) {
    var pre = el("pre", cls || "");
    var wrap = el("div", "block");
    if (text.length > LIMIT) {
      pre.textContent = text.slice(0, LIMIT) + "\n…";
      var more = el("button", "secondary small", "Show all " + text.length.toLocaleString("en-US") + " characters");
      more.type = "button";
      more.addEventListener("click", function () { pre.textContent = text; more.remove(); });
      wrap.appendChild(pre); wrap.appendChild(more);
    } else {
      pre.textContent = text; wrap.appendChild(pre);
    }
    return wrap;
  }

  // -- timeline -----------------------------------------------------------------------
  function lanes(data) {
    var names = {};
    data.agents.forEach(function (a) { names[a.id] = a.name || a.id; });
    var order = [], groups = {};
    data.events.forEach(function (ev) {
      var key = ev.agent_id || "";
      if (!groups[key]) { groups[key] = []; order.push(key); }
      groups[key].push(ev);
    });
    return order.map(function (key) {
      return { name: key ? (names[key] || "agent " + key.slice(0, 8)) : "session", events: groups[key] };
    });
  }
  function span(data) {
    var s = data.session, t0 = ms(s.init_timestamp), t1 = t0;
    data.events.forEach(function (ev) {
      t1 = Math.max(t1, ms(ev.end_timestamp || ev.init_timestamp), ms(ev.init_timestamp));
    });
    if (s.end_timestamp) { t1 = Math.max(t1, ms(s.end_timestamp)); }
    data.events.forEach(function (ev) { t0 = Math.min(t0, ms(ev.init_timestamp)); });
    return { t0: t0, t1: Math.max(t1, t0 + 1) };
  }
  function axis(sp) {
    var row = el("div", "tl-axis");
    row.appendChild(el("div", "tl-label muted small", "time →"));
    var track = el("div", "tl-track");
    var total = (sp.t1 - sp.t0) / 1000;
    for (var i = 0; i <= 4; i++) {
      var tick = el("span", "tick", fmtDur(total * i / 4));
      tick.style.left = (i * 25) + "%";
      track.appendChild(tick);
    }
    row.appendChild(track);
    return row;
  }
  function eventRow(ev, sp) {
    var k = kind(ev);
    var row = el("div", "tl-row " + k);
    row.id = "event-" + ev.id;
    row.setAttribute("role", "option");
    row.setAttribute("data-event-id", ev.id);
    row.setAttribute("data-kind", k);
    var name = el("div", "tl-label");
    name.appendChild(el("span", "badge " + k, k === "other" ? ev.event_type : k.slice(0, -1)));
    name.appendChild(el("span", "tl-name", label(ev)));
    name.title = label(ev);
    var track = el("div", "tl-track");
    var start = ms(ev.init_timestamp), end = ms(ev.end_timestamp || ev.init_timestamp);
    var bar = el("span", "tl-bar " + k);
    var whole = sp.t1 - sp.t0;
    bar.style.left = ((start - sp.t0) / whole * 100) + "%";
    bar.style.width = Math.max((end - start) / whole * 100, 0.6) + "%";
    track.appendChild(bar);
    var dur = el("span", "tl-dur", fmtDur((end - start) / 1000));
    row.appendChild(name); row.appendChild(track); row.appendChild(dur);
    row.addEventListener("click", function () { select(ev.id, true); });
    return row;
  }
  function drawTimeline(data) {
    timeline.replaceChildren();
    state.byId = {};
    data.events.forEach(function (ev) { state.byId[ev.id] = ev; });
    if (!data.events.length) { timeline.appendChild(el("p", "muted", "No events yet.")); return; }
    var sp = span(data);
    timeline.appendChild(axis(sp));
    lanes(data).forEach(function (lane) {
      var group = el("div", "tl-lane");
      group.appendChild(el("div", "tl-lane-name", lane.name + " · " + lane.events.length));
      lane.events.forEach(function (ev) { group.appendChild(eventRow(ev, sp)); });
      timeline.appendChild(group);
    });
    if (state.selected && state.byId[state.selected]) { select(state.selected, false); }
  }

  // -- details ------------------------------------------------------------------------
  function field(dl, name, value) {
    if (value === null || value === undefined || value === "") { return; }
    var d = el("div"); d.appendChild(el("dt", "", name)); d.appendChild(el("dd", "", value));
    dl.appendChild(d);
  }
  function messages(value) {
    if (Array.isArray(value)) { return value; }
    if (value && typeof value === "object" && Array.isArray(value.messages)) { return value.messages; }
    if (value && typeof value === "object" && (value.role || value.content !== undefined)) { return [value]; }
    return null;
  }
  function contentText(c) {
    if (c === null || c === undefined) { return ""; }
    if (typeof c === "string") { return c; }
    if (Array.isArray(c)) {
      return c.map(function (part) { return part && typeof part === "object" && "text" in part ? String(part.text) : pretty(part); }).join("\n");
    }
    return pretty(c);
  }
  function chat(title, value, cls) {
    var box = el("section", "chat " + (cls || ""));
    box.appendChild(el("h3", "", title));
    var msgs = messages(value);
    if (!msgs) { box.appendChild(block(value === null || value === undefined ? "(none)" : contentText(value), "message-text")); return box; }
    msgs.forEach(function (m) {
      var role = (m && m.role) || "message";
      var msg = el("div", "msg role-" + String(role).replace(/[^a-z_]/gi, ""));
      msg.appendChild(el("div", "role", role + (m && m.name ? " · " + m.name : "")));
      var text = contentText(m && typeof m === "object" ? m.content : m);
      if (text) { msg.appendChild(block(text, "message-text")); }
      var calls = m && (m.tool_calls || m.function_call);
      if (calls) {
        msg.appendChild(el("div", "role small", "tool calls"));
        msg.appendChild(block(pretty(calls), "json"));
      }
      box.appendChild(msg);
    });
    return box;
  }
  function section(title, value) {
    var box = el("section", "kv");
    box.appendChild(el("h3", "", title));
    box.appendChild(block(value === undefined || value === null ? "null" : pretty(value), "json"));
    return box;
  }
  function showDetail(ev) {
    var k = kind(ev);
    detail.replaceChildren();
    var top = el("div", "detail-head");
    top.appendChild(el("span", "badge " + k, k === "other" ? ev.event_type : k.slice(0, -1)));
    top.appendChild(el("h2", "", label(ev)));
    detail.appendChild(top);
    var dl = el("dl", "facts");
    var dur = (ms(ev.end_timestamp || ev.init_timestamp) - ms(ev.init_timestamp)) / 1000;
    var t0 = ms(state.data.session.init_timestamp);
    field(dl, "Started", "+" + fmtDur((ms(ev.init_timestamp) - t0) / 1000) + "  ·  " + String(ev.init_timestamp).slice(11, 23));
    field(dl, k === "llms" ? "Latency" : "Duration", fmtDur(ev.latency !== undefined && ev.latency !== null ? ev.latency : dur));
    if (k === "llms") {
      field(dl, "Model", ev.model);
      field(dl, "Prompt tokens", fmtNum(ev.prompt_tokens));
      field(dl, "Completion tokens", fmtNum(ev.completion_tokens));
      if (ev.cached_tokens) { field(dl, "Cached tokens", fmtNum(ev.cached_tokens)); }
      field(dl, "Cost", fmtCost(ev.cost));
      field(dl, "Stop reason", ev.stop_reason);
    }
    if (k === "errors") { field(dl, "Type", ev.error_type); field(dl, "Code", ev.code); }
    field(dl, "Agent", ev.agent_id);
    field(dl, "Event id", ev.id);
    detail.appendChild(dl);
    if (k === "llms") {
      detail.appendChild(chat("Prompt", ev.prompt, "prompt"));
      detail.appendChild(chat("Completion", ev.completion, "completion"));
    } else if (k === "errors") {
      if (ev.trigger_event_id) {
        var link = el("a", "button trigger-link", "Go to the " + (ev.trigger_event_type || "event").replace(/s$/, "") + " that raised it →");
        link.href = "#event-" + ev.trigger_event_id;
        link.id = "trigger-link";
        link.addEventListener("click", function (e) { e.preventDefault(); select(ev.trigger_event_id, true); });
        detail.appendChild(link);
      }
      detail.appendChild(section("Message", ev.details));
      if (ev.logs) { var tb = el("section", "kv"); tb.appendChild(el("h3", "", "Traceback")); tb.appendChild(block(String(ev.logs), "traceback")); detail.appendChild(tb); }
    } else {
      detail.appendChild(section("Parameters", ev.params));
      detail.appendChild(section("Returns", ev.returns));
      if (ev.logs) { detail.appendChild(section("Logs", ev.logs)); }
    }
    var raw = el("details", "raw");
    raw.appendChild(el("summary", "", "Everything the SDK sent"));
    raw.appendChild(block(JSON.stringify(ev.data, null, 2), "json"));
    detail.appendChild(raw);
  }
  function select(id, scroll) {
    var ev = state.byId[id];
    if (!ev) { return; }
    state.selected = id;
    timeline.querySelectorAll(".tl-row.selected").forEach(function (r) { r.classList.remove("selected"); r.setAttribute("aria-selected", "false"); });
    var row = document.getElementById("event-" + id);
    if (row) {
      row.classList.add("selected"); row.setAttribute("aria-selected", "true");
      if (scroll) { row.scrollIntoView({ block: "nearest" }); }
    }
    if (scroll) { history.replaceState(null, "", "#event-" + id); }
    showDetail(ev);
  }
  function step(delta) {
    var rows = Array.prototype.slice.call(timeline.querySelectorAll(".tl-row"));
    if (!rows.length) { return; }
    var i = rows.findIndex(function (r) { return r.classList.contains("selected"); });
    var next = rows[Math.max(0, Math.min(rows.length - 1, i + delta))];
    select(next.getAttribute("data-event-id"), true);
  }
  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target && ev.target.tagName) || "";
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") { return; }
    if (ev.key === "j" || ev.key === "ArrowDown") { ev.preventDefault(); step(1); }
    else if (ev.key === "k" || ev.key === "ArrowUp") { ev.preventDefault(); step(-1); }
  });

  // -- header and live updates --------------------------------------------------------
  function setText(id, text) { var n = document.getElementById(id); if (n) { n.textContent = text; } }
  // The same line as the template's dropped_text filter (dashboard/render.py).
  function droppedText(counts) {
    var reasons = Object.keys(counts).sort();
    var total = reasons.reduce(function (sum, r) { return sum + counts[r]; }, 0);
    if (!total) { return ""; }
    var parts = reasons.filter(function (r) { return counts[r]; }).map(function (r) { return r + " " + fmtNum(counts[r]); });
    return fmtNum(total) + (total === 1 ? " event" : " events") + " never reached the server (counted by the SDK: " + parts.join(", ") + ")";
  }
  function drawHeader(s) {
    setText("stat-duration", fmtDur(s.duration_seconds));
    setText("stat-cost", fmtCost(s.cost));
    setText("stat-tokens", fmtNum(s.tokens.total));
    setText("stat-llms", fmtNum(s.counts.llms));
    setText("stat-tools", fmtNum(s.counts.tools));
    setText("stat-actions", fmtNum(s.counts.actions));
    setText("stat-errors", fmtNum(s.counts.errors));
    var badge = document.getElementById("state");
    if (badge) {
      badge.textContent = s.running ? "Running" : s.end_state;
      badge.className = "state " + (s.running ? "running" : String(s.end_state).toLowerCase());
    }
    document.getElementById("live").hidden = !s.running;
    var dropped = document.getElementById("dropped");
    if (dropped) {
      dropped.textContent = droppedText(s.dropped_events || {});
      dropped.hidden = !dropped.textContent;
    }
    var reason = document.getElementById("reason");
    if (reason) {
      var text = s.end_state_reason || "";
      reason.textContent = text.length > 2000 ? text.slice(0, 1999) + "…" : text;
      reason.className = "reason-full " + String(s.end_state).toLowerCase();
      reason.hidden = !text;
    }
  }
  function signature(d) {
    var s = d.session;
    return [d.events.length, s.end_state, s.event_count, s.last_event_at, JSON.stringify(s.dropped_events)].join("|");
  }
  function load() {
    return fetch("/sessions/" + encodeURIComponent(sessionId) + "?format=json", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error("HTTP " + r.status); } return r.json(); })
      .then(function (data) {
        var changed = !state.data || signature(state.data) !== signature(data);
        state.data = data;
        if (changed) { drawHeader(data.session); drawTimeline(data); }
        return data;
      });
  }
  function poll() {
    load().then(function (data) {
      if (data.session.running) { window.setTimeout(poll, POLL_MS); }
    }, function () { window.setTimeout(poll, POLL_MS * 2); });
  }
  load().then(function (data) {
    var hash = window.location.hash;
    if (hash.indexOf("#event-") === 0) { select(hash.slice(7), true); }
    if (data.session.running) { window.setTimeout(poll, POLL_MS); }
  }, function (err) {
    timeline.replaceChildren(el("p", "error-msg", "Could not load the events: " + err.message));
  });
  window.addEventListener("hashchange", function () {
    var hash = window.location.hash;
    if (hash.indexOf("#event-") === 0) { select(hash.slice(7), false); }
  });
})();
