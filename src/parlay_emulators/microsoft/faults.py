"""ASGI middleware: logs each call, and answers the ones a fault was set for (``/_emulator/faults``)."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import GraphError, OAuthError, graph_error, oauth_error
from .store import Fault, Store

OAUTH_ERRORS = {429: "temporarily_unavailable", 503: "temporarily_unavailable", 500: "server_error"}


class FaultMiddleware:
    def __init__(self, app: ASGIApp, store: Store) -> None:
        self.app = app
        self.store = store

    def _take(self, method: str, path: str) -> Fault | None:
        for fault in self.store.faults:
            if fault.count > 0 and fault.method in ("*", method) and fnmatchcase(path, fault.path):
                fault.count -= 1
                if fault.count == 0:
                    self.store.faults.remove(fault)
                return fault
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulator/"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": scope.get("query_string", b"").decode(),
        }
        self.store.requests.append(entry)
        del self.store.requests[:-1000]
        fault = self._take(method, path)
        if fault is not None and fault.when == "before":
            entry["status"] = fault.status
            await self._fault_response(fault, scope, receive, send)
            return

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            await send(message)

        if fault is None:
            await self.app(scope, receive, recording_send)
            return

        async def swallow(message: Message) -> None:  # the work is done, the answer is lost
            return None

        await self.app(scope, receive, swallow)
        entry["status"] = fault.status
        await self._fault_response(fault, scope, receive, send)

    async def _fault_response(
        self, fault: Fault, scope: Scope, receive: Receive, send: Send
    ) -> None:
        request = Request(scope, receive)
        if scope["path"].startswith("/v1.0/"):
            response = graph_error(
                request,
                GraphError(fault.status, fault.code, fault.message, retry_after=fault.retry_after),
            )
        else:
            error = fault.code or OAUTH_ERRORS.get(fault.status, "invalid_request")
            response = oauth_error(
                OAuthError(
                    error,
                    90000 + fault.status,
                    fault.message or "The emulator was told to fail this call.",
                    status=fault.status,
                    retry_after=fault.retry_after,
                )
            )
        await response(scope, receive, send)


def parse_fault(body: Any, fault_id: str) -> Fault:
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("path"), str)
        or not isinstance(body.get("status"), int)
    ):
        raise ValueError("a fault needs path (a glob) and status")
    when = body.get("when", "after" if body.get("after") is True else "before")
    if when not in ("before", "after"):
        raise ValueError("when is before or after")
    retry_after = body.get("retry_after")
    return Fault(
        id=fault_id,
        path=body["path"],
        method=str(body.get("method", "*")).upper(),
        status=body["status"],
        count=int(body.get("count", 1)),
        retry_after=int(retry_after) if retry_after is not None else None,
        code=body.get("code"),
        message=body.get("message"),
        when=when,
    )
