// The API's docs page: Swagger UI (served from static/vendor, never a CDN) on /api/v1/openapi.json.
(function () {
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    // Tags start closed: with every tag open at once (140 operations), Swagger UI 5.35 drew only the first tag
    // and stopped (Chromium 156, no error in the console); one tag at a time draws every operation.
    docExpansion: "none",
    persistAuthorization: false,
  });
})();
