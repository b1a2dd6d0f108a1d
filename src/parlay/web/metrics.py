"""Prometheus metrics of one app (a registry per app, so tests can build many apps).

The request counter is a plain ASGI middleware: it sits on every request's path, and
Starlette's ``BaseHTTPMiddleware`` costs far more than the counting itself.

``/metrics`` answers only a scraper: with ``PARLAY_METRICS_TOKEN`` set, a request carrying
``Authorization: Bearer <token>``; without it, a loopback client whose request did not come
through a proxy. Anyone else gets the ordinary 404.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parlay.services import outbox
from parlay.web.errors import error_body

PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


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


def _is_loopback(host: str | None) -> bool:
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def may_scrape(request: Request, token: str | None) -> bool:
    """Whether this request may read the metrics (see the module docstring)."""
    if token:
        sent = request.headers.get("authorization", "")
        scheme, _, credential = sent.partition(" ")
        # Starlette decodes headers as latin-1: compare the raw bytes, never a 500.
        given = credential.strip().encode("latin-1")  # the bytes sent
        return scheme.lower() == "bearer" and hmac.compare_digest(given, token.encode())
    if any(name in request.headers for name in PROXY_HEADERS):
        return False
    return _is_loopback(request.client.host if request.client else None)


def install(app: FastAPI, connected_users: Callable[[], int], token: str | None = None) -> None:
    registry = CollectorRegistry()
    requests = Counter(
        "parlay_http_requests", "HTTP requests", ["method", "route", "status"], registry=registry
    )
    latency = Histogram(
        "parlay_http_request_seconds", "HTTP request latency", ["route"], registry=registry
    )
    gauge = Gauge("parlay_ws_connected_users", "Users with a live socket", registry=registry)
    gauge.set_function(connected_users)
    outbox_jobs = Gauge(
        "parlay_outbox_jobs", "Outbox jobs by status", ["status"], registry=registry
    )
    outbox_oldest = Gauge(
        "parlay_outbox_oldest_pending_seconds",
        "How long the oldest pending outbox job has waited since it was enqueued (0: none)",
        registry=registry,
    )

    async def read_outbox(request: Request) -> None:
        ctx = getattr(request.app.state, "ctx", None)
        if ctx is None:
            return
        stats = await outbox.get_stats(ctx.db)
        for status, n in stats.counts.items():
            outbox_jobs.labels(status).set(n)
        outbox_oldest.set(stats.oldest_pending_seconds or 0.0)

    app.add_middleware(_RequestMetrics, requests=requests, latency=latency)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if not may_scrape(request, token):
            return JSONResponse(error_body("not_found", "Not Found"), status_code=404)
        await read_outbox(request)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
