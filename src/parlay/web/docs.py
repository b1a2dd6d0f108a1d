"""``/api/docs``: Swagger UI from our own origin, under the same CSP as every page.

FastAPI's built-in page loads Swagger UI from a CDN and starts it with an inline script, both
refused by our CSP (``script-src 'self'``). Here the Swagger UI bundle and stylesheet come
from the ``fastapi-offline`` package (it ships them; nothing is fetched at run time), the page
is our template and the start-up code is a static file, ``static/js/docs.js``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from parlay.web.pages import templates

DOCS_PATH = "/api/docs"
ASSETS_PATH = "/api/docs/assets"


def install(app: FastAPI) -> None:
    app.mount(
        ASSETS_PATH,
        StaticFiles(packages=[("fastapi_offline", "static")]),
        name="docs-assets",
    )

    @app.get(DOCS_PATH, include_in_schema=False)
    async def api_docs(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request,
            "docs.html",
            {"openapi_url": app.openapi_url, "assets": ASSETS_PATH},
        )
