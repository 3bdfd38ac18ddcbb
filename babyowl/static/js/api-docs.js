// The API's docs page: Swagger UI (served from static/vendor, never a CDN) on /api/v1/openapi.json.
(function () {
  var root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    persistAuthorization: false,
  });
})();
