// Starts Swagger UI on /api/docs. A static file because the CSP allows no inline script;
// the bundle it calls is served from our origin (see parlay/web/docs.py).
(() => {
  const root = document.getElementById('swagger-ui');
  SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    deepLinking: true,
    validatorUrl: null, // never send the document to an outside validator
    presets: [SwaggerUIBundle.presets.apis],
    layout: 'BaseLayout',
  });
})();
