// Starts Swagger UI on the API's own document. A file, not an inline script: the page's CSP allows scripts from 'self' only.
window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  // The default validator is a badge image from validator.swagger.io: off, so the page makes no third-party request.
  validatorUrl: null,
});
