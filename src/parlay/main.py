"""``create_app(settings)``: the ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from parlay.container import Container
from parlay.settings import Settings
from parlay.web import errors, metrics, pages, ws
from parlay.web.routes import auth, rooms, scheduling

MAX_BODY_BYTES = 1024 * 1024
CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self'; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def create_app(settings: Settings, container: Container | None = None) -> FastAPI:
    container = container or Container.build(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await container.start()
        _app.state.ready = True
        try:
            yield
        finally:
            _app.state.ready = False
            await container.stop()

    app = FastAPI(
        title="Parlay",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.container = container
    app.state.settings = settings
    app.state.ctx = container.ctx
    app.state.hub = container.hub
    app.state.ready = False
    errors.install(app)
    metrics.install(app, container.hub.connected_users)

    @app.middleware("http")
    async def _guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return JSONResponse(
                errors.error_body("too_large", "The request body is too large."), status_code=413
            )
        if "\x00" in request.url.path or b"%00" in request.scope["query_string"]:
            return JSONResponse(
                errors.error_body("invalid", "The URL must not contain the NUL character."),
                status_code=422,
            )
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        if not app.state.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ok"})

    app.include_router(auth.router)
    app.include_router(rooms.router)
    app.include_router(scheduling.router)
    app.include_router(ws.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(packages=[("parlay.web", "static")]), name="static")
    return app
