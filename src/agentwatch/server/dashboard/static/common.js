// Small behaviours shared by every page. No data is ever inserted as HTML.
"use strict";
(function () {
  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var el = document.getElementById(btn.getAttribute("data-copy"));
      if (el && navigator.clipboard) {
        navigator.clipboard.writeText(el.textContent).then(function () { btn.textContent = "Copied"; });
      }
    });
  });
  // The sessions table: "/" focuses search, j/k move between rows, Enter opens one.
  var rows = Array.prototype.slice.call(document.querySelectorAll("table.sessions tbody tr"));
  var current = -1;
  function focusRow(i) {
    if (!rows.length) { return; }
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach(function (r, j) { r.classList.toggle("kb-focus", j === current); });
    var link = rows[current].querySelector("a.row-link");
    if (link) { link.focus(); }
  }
  rows.forEach(function (row) {
    row.addEventListener("click", function (ev) {
      if (ev.target.closest("a")) { return; }
      var link = row.querySelector("a.row-link");
      if (link) { window.location.href = link.href; }
    });
  });
  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target && ev.target.tagName) || "";
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA") { return; }
    if (ev.key === "/" && document.getElementById("q")) {
      ev.preventDefault(); document.getElementById("q").focus();
    } else if (rows.length && (ev.key === "j" || ev.key === "ArrowDown")) {
      ev.preventDefault(); focusRow(current + 1);
    } else if (rows.length && (ev.key === "k" || ev.key === "ArrowUp")) {
      ev.preventDefault(); focusRow(current - 1);
    }
  });
  document.querySelectorAll(".bar[data-share]").forEach(function (bar) {
    bar.style.width = Math.max(0, Math.min(100, parseFloat(bar.getAttribute("data-share")) || 0)) + "%";
  });
})();
