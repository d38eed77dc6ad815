// Overview charts as plain SVG, drawn from the page's own JSON. Text via textContent only.
"use strict";
(function () {
  var root = document.getElementById("charts");
  if (!root) { return; }
  var NS = "http://www.w3.org/2000/svg";
  var W = 560, H = 200, L = 48, R = 10, T = 10, B = 28;

  function svg(tag, attrs, text) {
    var n = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    if (text !== undefined) { n.textContent = String(text); }
    return n;
  }
  function niceMax(v) {
    if (!(v > 0)) { return 1; }
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function frame(days, max, fmt) {
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", class: "chart-svg" });
    for (var i = 0; i <= 4; i++) {
      var y = T + (H - T - B) * (1 - i / 4);
      s.appendChild(svg("line", { x1: L, x2: W - R, y1: y, y2: y, class: "grid" }));
      s.appendChild(svg("text", { x: L - 6, y: y + 4, class: "ylab" }, fmt(max * i / 4)));
    }
    var every = Math.ceil(days.length / 8);
    days.forEach(function (d, i) {
      if (i % every) { return; }
      s.appendChild(svg("text", { x: xMid(days.length, i), y: H - 8, class: "xlab" }, d.day.slice(5)));
    });
    return s;
  }
  function xMid(n, i) { return L + (W - L - R) * (i + 0.5) / n; }
  function yOf(v, max) { return T + (H - T - B) * (1 - v / max); }
  function tip(node, text) { node.appendChild(svg("title", {}, text)); return node; }

  function stacked(target, days) {
    var max = niceMax(Math.max.apply(null, days.map(function (d) { return d.sessions; }).concat([1])));
    var s = frame(days, max, function (v) { return v % 1 ? v.toFixed(1) : String(v); });
    var bw = Math.max((W - L - R) / days.length * 0.7, 1);
    days.forEach(function (d, i) {
      var base = 0;
      [["Success", "success"], ["Fail", "fail"], ["Indeterminate", "indeterminate"]].forEach(function (st) {
        var v = d.end_states[st[0]] || 0;
        if (!v) { return; }
        var y0 = yOf(base, max), y1 = yOf(base + v, max);
        s.appendChild(tip(svg("rect", { x: xMid(days.length, i) - bw / 2, y: y1, width: bw, height: y0 - y1, class: "bar " + st[1] }), d.day + " · " + st[0] + ": " + v));
        base += v;
      });
    });
    target.appendChild(s);
    var legend = document.createElement("div"); legend.className = "legend";
    [["Success", "success"], ["Fail", "fail"], ["Running / unknown", "indeterminate"]].forEach(function (l) {
      var span = document.createElement("span"); span.className = "lg " + l[1]; span.textContent = l[0]; legend.appendChild(span);
    });
    target.appendChild(legend);
  }
  function bars(target, days, key, fmt) {
    var max = niceMax(Math.max.apply(null, days.map(function (d) { return d[key] || 0; }).concat([0])));
    var s = frame(days, max, fmt);
    var bw = Math.max((W - L - R) / days.length * 0.7, 1);
    days.forEach(function (d, i) {
      var v = d[key] || 0, y = yOf(v, max);
      s.appendChild(tip(svg("rect", { x: xMid(days.length, i) - bw / 2, y: y, width: bw, height: yOf(0, max) - y, class: "bar cost" }), d.day + ": " + fmt(v)));
    });
    target.appendChild(s);
  }
  function lines(target, days, keys, fmt, fixedMax) {
    var all = [];
    days.forEach(function (d) { keys.forEach(function (k) { if (d[k[0]] !== null) { all.push(d[k[0]]); } }); });
    var max = fixedMax || niceMax(Math.max.apply(null, all.concat([0])));
    var s = frame(days, max, fmt);
    keys.forEach(function (k) {
      var pts = [];
      days.forEach(function (d, i) {
        var v = d[k[0]];
        if (v === null || v === undefined) { return; }
        pts.push(xMid(days.length, i) + "," + yOf(v, max));
        s.appendChild(tip(svg("circle", { cx: xMid(days.length, i), cy: yOf(v, max), r: 3, class: "dot " + k[1] }), d.day + " · " + k[2] + ": " + fmt(v)));
      });
      if (pts.length > 1) { s.insertBefore(svg("polyline", { points: pts.join(" "), class: "line " + k[1] }), s.firstChild.nextSibling); }
    });
    target.appendChild(s);
    if (keys.length > 1) {
      var legend = document.createElement("div"); legend.className = "legend";
      keys.forEach(function (k) { var span = document.createElement("span"); span.className = "lg " + k[1]; span.textContent = k[2]; legend.appendChild(span); });
      target.appendChild(legend);
    }
  }
  function money(v) {
    if (!v) { return "$0"; }
    return "$" + (v >= 10 ? v.toFixed(0) : v >= 0.1 ? v.toFixed(2) : Number(v.toPrecision(2)).toString());
  }
  fetch(root.getAttribute("data-json"), { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      var days = data.days;
      stacked(document.getElementById("chart-sessions"), days);
      bars(document.getElementById("chart-cost"), days, "cost", money);
      lines(document.getElementById("chart-errors"), days, [["error_rate", "fail", "error rate"]], function (v) { return Math.round(v * 100) + "%"; }, 1);
      lines(document.getElementById("chart-duration"), days, [["duration_p50", "p50", "p50"], ["duration_p95", "p95", "p95"]], function (v) { return v >= 100 ? v.toFixed(0) : v.toFixed(1); });
    });
})();
