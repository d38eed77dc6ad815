// Starts ReDoc (redoc.standalone.js, loaded before this file) on this server's schema.
// The nonce is the page's CSP style nonce: ReDoc stamps the style elements it adds with it.
"use strict";
(function () {
  var root = document.getElementById("api-docs");
  window.Redoc.init(
    root.getAttribute("data-schema-url"),
    { nonce: root.getAttribute("data-style-nonce"), disableSearch: false },
    root
  );
})();
