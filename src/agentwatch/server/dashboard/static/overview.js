// Overview charts as plain SVG, drawn from the page's own JSON. Text via textContent only.
// The page is in the viewer's time zone (its name, so that days follow daylight saving
// time; else its current UTC offset): without a tz in its address it reloads with one.
"use strict";
(function () {
  var root = document.getElementById("charts");
  if (!root) { return; }
  var here = new URL(window.location.href);
  if (!here.searchParams.get("tz")) {
    here.searchParams.set("tz", browserZone());
    window.location.replace(here.toString());
    return;
  }
  var NS = "http://www.w3.org/2000/svg";
  var W = 560, H = 200, L = 52, R = 10, T = 10, B = 28;
  var STATES = [["Success", "success", "Success"], ["Fail", "fail", "Fail"], ["ended", "indeterminate", "Ended, state unknown"], ["running", "running", "Running"]];

  function browserZone() {
    var name = "";
    try { name = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { name = ""; }
    return /^[A-Za-z][A-Za-z0-9_+\-]*(\/[A-Za-z0-9_+\-]+){0,2}$/.test(name) ? name : browserOffset();
  }
  function browserOffset() {
    var minutes = -new Date().getTimezoneOffset();
    var sign = minutes < 0 ? "-" : "+", a = Math.abs(minutes);
    return sign + String(Math.floor(a / 60)).padStart(2, "0") + ":" + String(a % 60).padStart(2, "0");
  }
  function svg(tag, attrs, text) {
    var n = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    if (text !== undefined) { n.textContent = String(text); }
    return n;
  }
  // Ticks from 0 to a round maximum; counts get whole steps only (never "2.5 sessions").
  function linearTicks(v, whole) {
    var max = v > 0 ? v : 1, raw = max / 4;
    var p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    var step = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
    if (whole) { step = Math.max(1, Math.ceil(step)); }
    var ticks = [];
    for (var t = 0; t < max + step * 0.999; t += step) { ticks.push(whole ? Math.round(t) : t); }
    return ticks;
  }
  function linearScale(ticks) {
    var max = ticks[ticks.length - 1];
    return function (v) { return T + (H - T - B) * (1 - v / max); };
  }
  // Decades around the values: a few outliers then do not flatten everything else.
  function logTicks(values) {
    var lo = Math.floor(Math.log10(Math.min.apply(null, values)));
    var hi = Math.ceil(Math.log10(Math.max.apply(null, values)));
    if (hi <= lo) { hi = lo + 1; }
    var ticks = [];
    for (var e = lo; e <= hi; e++) { ticks.push(Math.pow(10, e)); }
    return ticks;
  }
  function logScale(ticks) {
    var lo = Math.log10(ticks[0]), hi = Math.log10(ticks[ticks.length - 1]);
    return function (v) { return T + (H - T - B) * (1 - (Math.log10(v) - lo) / (hi - lo)); };
  }
  function label(b, step) { return step === "hour" ? b.start.slice(11, 16) : b.start.slice(5, 10); }
  function frame(buckets, step, ticks, yOf, fmt) {
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", class: "chart-svg" });
    ticks.forEach(function (v) {
      var y = yOf(v);
      s.appendChild(svg("line", { x1: L, x2: W - R, y1: y, y2: y, class: "grid" }));
      s.appendChild(svg("text", { x: L - 6, y: y + 4, class: "ylab" }, fmt(v)));
    });
    var every = Math.ceil(buckets.length / 8);
    buckets.forEach(function (b, i) {
      if (i % every) { return; }
      s.appendChild(svg("text", { x: xMid(buckets.length, i), y: H - 8, class: "xlab" }, label(b, step)));
    });
    return s;
  }
  function xMid(n, i) { return L + (W - L - R) * (i + 0.5) / n; }
  function tip(node, text) { node.appendChild(svg("title", {}, text)); return node; }
  function legend(target, items) {
    var box = document.createElement("div"); box.className = "legend";
    items.forEach(function (l) { var span = document.createElement("span"); span.className = "lg " + l[1]; span.textContent = l[0]; box.appendChild(span); });
    target.appendChild(box);
  }
  function stackedBars(target, buckets, step, layers, valueOf, fmt, whole) {
    var totals = buckets.map(function (b) { return layers.reduce(function (a, l) { return a + (valueOf(b, l) || 0); }, 0); });
    var ticks = linearTicks(Math.max.apply(null, totals.concat([0])), whole), yOf = linearScale(ticks);
    var s = frame(buckets, step, ticks, yOf, fmt);
    var bw = Math.max((W - L - R) / buckets.length * 0.7, 1);
    buckets.forEach(function (b, i) {
      var base = 0;
      layers.forEach(function (l) {
        var v = valueOf(b, l) || 0;
        if (!v) { return; }
        var y0 = yOf(base), y1 = yOf(base + v);
        s.appendChild(tip(svg("rect", { x: xMid(buckets.length, i) - bw / 2, y: y1, width: bw, height: Math.max(y0 - y1, 0.5), class: "bar " + l[1] }), label(b, step) + " · " + l[2] + ": " + fmt(v)));
        base += v;
      });
    });
    target.appendChild(s);
    legend(target, layers.map(function (l) { return [l[2], l[1]]; }));
  }
  function lines(target, buckets, step, keys, fmt, scale) {
    var all = [];
    buckets.forEach(function (b) { keys.forEach(function (k) { if (b[k[0]] !== null && b[k[0]] > 0) { all.push(b[k[0]]); } }); });
    var ticks = scale === "log" ? logTicks(all.length ? all : [1]) : scale === "share" ? [0, 0.25, 0.5, 0.75, 1] : linearTicks(Math.max.apply(null, all.concat([0])), false);
    var yOf = scale === "log" ? logScale(ticks) : linearScale(ticks);
    var s = frame(buckets, step, ticks, yOf, fmt);
    keys.forEach(function (k) {
      var pts = [];
      buckets.forEach(function (b, i) {
        var v = b[k[0]];
        if (v === null || v === undefined || (scale === "log" && !(v > 0))) { return; }
        pts.push(xMid(buckets.length, i) + "," + yOf(v));
        s.appendChild(tip(svg("circle", { cx: xMid(buckets.length, i), cy: yOf(v), r: k[3] || 3, class: "dot " + k[1] }), label(b, step) + " · " + k[2] + ": " + fmt(v)));
      });
      if (pts.length > 1 && !k[3]) { s.insertBefore(svg("polyline", { points: pts.join(" "), class: "line " + k[1] }), s.firstChild.nextSibling); }
    });
    target.appendChild(s);
    if (keys.length > 1) { legend(target, keys.map(function (k) { return [k[2], k[1]]; })); }
  }
  function money(v) {
    if (!v) { return "$0"; }
    return "$" + (v >= 10 ? v.toFixed(0) : v >= 0.1 ? v.toFixed(2) : Number(v.toPrecision(2)).toString());
  }
  function seconds(v) {
    if (v < 1) { return Math.round(v * 1000) + " ms"; }
    if (v < 120) { return Number(v.toPrecision(2)) + " s"; }
    if (v < 7200) { return Math.round(v / 60) + " min"; }
    return Math.round(v / 3600) + " h";
  }
  // The five costliest models, the rest as "other".
  function modelLayers(buckets) {
    var spent = {};
    buckets.forEach(function (b) { Object.keys(b.cost_by_model).forEach(function (m) { spent[m] = (spent[m] || 0) + (b.cost_by_model[m] || 0); }); });
    var names = Object.keys(spent).sort(function (a, b) { return spent[b] - spent[a] || (a < b ? -1 : 1); });
    var top = names.slice(0, 5).map(function (m, i) { return [m, "m" + i, m]; });
    if (names.length > 5) { top.push(["", "m5", "other models"]); }
    return top;
  }
  function stateCount(b, layer) {
    if (layer[0] === "running") { return b.running; }
    if (layer[0] === "ended") { return b.end_states.Indeterminate - b.running; }
    return b.end_states[layer[0]];
  }
  document.querySelectorAll("#models .bar[data-share]").forEach(function (bar) { bar.style.width = bar.getAttribute("data-share") + "%"; });
  fetch(root.getAttribute("data-json"), { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      var buckets = data.buckets, step = data.step;
      stackedBars(document.getElementById("chart-sessions"), buckets, step, STATES, stateCount, function (v) { return String(v); }, true);
      var layers = modelLayers(buckets), named = layers.filter(function (l) { return l[0]; }).map(function (l) { return l[0]; });
      stackedBars(document.getElementById("chart-cost"), buckets, step, layers, function (b, l) {
        if (l[0]) { return b.cost_by_model[l[0]] || 0; }
        return Object.keys(b.cost_by_model).reduce(function (a, m) { return named.indexOf(m) >= 0 ? a : a + (b.cost_by_model[m] || 0); }, 0);
      }, money, false);
      lines(document.getElementById("chart-errors"), buckets, step, [["error_rate", "fail", "error rate"]], function (v) { return Math.round(v * 100) + "%"; }, "share");
      lines(document.getElementById("chart-duration"), buckets, step, [["duration_p50", "p50", "p50"], ["duration_p95", "p95", "p95"], ["duration_p99", "p99", "p99 (outliers)", 2.5]], seconds, "log");
      root.setAttribute("data-drawn", "true");
    });
})();
