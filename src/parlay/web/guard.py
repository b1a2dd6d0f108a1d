"""The outermost request guard (plain ASGI): bounds what a client may send and adds the
security headers to every response.

- A body is counted as it streams (a chunked body has no ``content-length``): past
  ``MAX_BODY_BYTES`` the request gets 413 ``too_large`` and the rest is never read; a
  ``content-length`` over the limit is refused before the app runs.
- The whole body must arrive within ``body_timeout`` seconds of the request reaching the app
  (408 ``timeout``); waiting for a disconnect after the body is not bounded.
- NUL characters in the URL are a 422.

The app reads the body through the wrapped ``receive``; the wrapper raises a Starlette
``HTTPException`` subclass (FastAPI turns any other exception raised while reading a body into
a 400) and the Guard answers with its own refusal, whatever the app made of the exception.
Refusals carry ``Connection: close`` so the server stops reading the connection.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parlay.web.errors import error_body

MAX_BODY_BYTES = 1024 * 1024
CSP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
    "connect-src 'self'; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
HSTS = ("Strict-Transport-Security", "max-age=63072000; includeSubDomains")


class BodyRefused(HTTPException):
    """Raised from ``receive`` when a body breaks a bound; ``code`` names the refusal."""

    code = "refused"

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(status_code=status_code, detail=message)

    def response(self) -> JSONResponse:
        return JSONResponse(error_body(self.code, str(self.detail)), status_code=self.status_code)


class BodyTooLarge(BodyRefused):
    code = "too_large"

    def __init__(self) -> None:
        super().__init__(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")


class BodyTimeout(BodyRefused):
    code = "timeout"

    def __init__(self) -> None:
        super().__init__(408, "The request body did not arrive in time.")


def _refusal(scope: Scope) -> JSONResponse | None:
    for name, value in scope["headers"]:
        if name == b"content-length" and (not value.isdigit() or int(value) > MAX_BODY_BYTES):
            return BodyTooLarge().response()
    if "\x00" in scope["path"] or b"%00" in scope["query_string"]:
        return JSONResponse(
            error_body("invalid", "The URL must not contain the NUL character."), status_code=422
        )
    return None


def _declares_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


class _BoundedBody:
    """One request's ``receive``, counted and timed; remembers the refusal it raised."""

    def __init__(self, receive: Receive, timeout: float, declared: bool) -> None:
        self.receive = receive
        self.deadline = asyncio.get_running_loop().time() + timeout
        self.received = 0
        self.complete = not declared
        self.responding = False  # the response has started
        self.refused: BodyRefused | None = None

    async def __call__(self) -> Message:
        if self.refused is not None:
            raise self.refused
        if self.complete or self.responding:
            # Only a disconnect is awaited now (a streaming response listens for one).
            message = await self.receive()
        else:
            try:
                async with asyncio.timeout_at(self.deadline):
                    message = await self.receive()
            except TimeoutError:
                self.refused = BodyTimeout()
                raise self.refused from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > MAX_BODY_BYTES:
                self.refused = BodyTooLarge()
                raise self.refused
            self.complete = not message.get("more_body", False)
        return message


class Guard:
    def __init__(self, app: ASGIApp, hsts: bool = False, body_timeout: float = 30.0) -> None:
        self.app = app
        self.headers = dict(SECURITY_HEADERS)
        if hsts:
            self.headers[HSTS[0]] = HSTS[1]
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = _refusal(scope)
        body = _BoundedBody(receive, self.body_timeout, _declares_body(scope))

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                body.responding = True
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
                if not body.complete:
                    # Answered without reading the whole body (a 404, a refusal): hang up
                    # rather than let the server read and discard the rest.
                    headers["connection"] = "close"
            await send(message)

        if refusal is not None:
            await refusal(scope, receive, send_secured)
            return

        async def send_unless_refused(message: Message) -> None:
            # Once the body was refused, whatever the app answers is replaced by the refusal.
            if body.refused is None:
                await send_secured(message)
            elif not body.responding and message["type"] == "http.response.start":
                await _send_refusal(body.refused, scope, send_secured)

        try:
            await self.app(scope, body, send_unless_refused)
        except BodyRefused as exc:
            if body.responding:
                raise
            await _send_refusal(exc, scope, send_secured)


async def _send_refusal(exc: BodyRefused, scope: Scope, send: Send) -> None:
    async def no_body() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    await exc.response()(scope, no_body, send)
