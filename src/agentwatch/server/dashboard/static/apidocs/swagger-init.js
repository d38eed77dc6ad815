// Starts Swagger UI (swagger-ui-bundle.js, loaded before this file) on this server's schema.
"use strict";
(function () {
  var root = document.getElementById("api-docs");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-schema-url"),
    domNode: root,
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    validatorUrl: null, // the default sends the schema to a public validator
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
