"""Prometheus metrics of one app (a registry per app, so tests can build many apps).

The request counter is a plain ASGI middleware: it sits on every request's path, and
Starlette's ``BaseHTTPMiddleware`` costs far more than the counting itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _RequestMetrics:
    def __init__(self, app: ASGIApp, requests: Counter, latency: Histogram) -> None:
        self.app, self.requests, self.latency = app, requests, latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.requests.labels(scope["method"], route, str(status)).inc()
            self.latency.labels(route).observe(time.perf_counter() - started)


def install(app: FastAPI, connected_users: Callable[[], int]) -> None:
    registry = CollectorRegistry()
    requests = Counter(
        "parlay_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "parlay_http_request_seconds", "HTTP request latency", ["route"], registry=registry
    )
    gauge = Gauge("parlay_ws_connected_users", "Users with a live socket", registry=registry)
    gauge.set_function(connected_users)
    app.add_middleware(_RequestMetrics, requests=requests, latency=latency)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
