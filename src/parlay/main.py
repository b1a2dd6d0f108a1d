"""``create_app(settings)``: the ASGI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from parlay.container import Container
from parlay.settings import Settings
from parlay.web import docs, errors, metrics, pages, ws
from parlay.web.guard import Guard
from parlay.web.routes import auth, busy, calendars, oauth, rooms, scheduling, test_clock
from parlay.web.routes import notifications as notification_routes
from parlay.web.routes import push as push_routes
from parlay.web.routes import webhooks as webhook_routes


class _ParlayAPI(FastAPI):
    """FastAPI, with the live socket (``WS /api/v1/ws``) routed around the HTTP middleware
    (``parlay.web.ws.LiveSocketRoute`` says why)."""

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        return ws.LiveSocketRoute(super().build_middleware_stack(), settings.trusted_proxies)


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

    app = _ParlayAPI(
        title="Parlay",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,  # our own page under the CSP: parlay.web.docs
        redoc_url=None,
        lifespan=lifespan,
        # Parlay's own Prometheus metrics (/metrics) are its telemetry; FastAPI's native
        # OpenTelemetry hook would otherwise ask for the global tracer, meter and logger
        # providers (environment lookups) on every request, to find none configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.container = container
    app.state.settings = settings
    app.state.ctx = container.ctx
    app.state.hub = container.hub
    app.state.ready = False
    errors.install(app)
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    metrics.install(app, container.hub.connected_users, token=token)
    docs.install(app)

    app.add_middleware(
        Guard,
        hsts=settings.env == "production",
        body_timeout=settings.body_timeout_seconds,
    )
    if settings.trusted_proxies:  # outermost: everything sees the client X-Forwarded-For names
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        if not app.state.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ok"})

    # FastAPI tries the routes of each included router in order (parlay.web.routes.rooms
    # says what a place costs): what is called most goes first: posting and reading messages,
    # then availability and meetings, then the rest of rooms.
    app.include_router(rooms.messages_router)
    app.include_router(scheduling.router)
    app.include_router(rooms.router)
    app.include_router(auth.router)
    app.include_router(calendars.router)
    app.include_router(busy.router)
    app.include_router(oauth.router)
    app.include_router(test_clock.router)
    app.include_router(notification_routes.router)
    app.include_router(webhook_routes.router)
    app.include_router(push_routes.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(packages=[("parlay.web", "static")]), name="static")
    return app
