// The compare page: bring the first divergence into view (the table is drawn by the server).
const first = document.getElementById("first-divergence");
if (first && !window.location.hash) { first.scrollIntoView({ block: "center" }); }
