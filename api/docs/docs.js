// Renders /api/schema/ with Swagger UI (vendored, see vendor/). "Try it
// out" sends requests to this server: the document's server is "/".
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/schema/",
    dom_id: "#swagger-ui",
    deepLinking: true,
    tryItOutEnabled: false,
    persistAuthorization: false,
    validatorUrl: null, // no calls to swagger.io: the page works offline
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
