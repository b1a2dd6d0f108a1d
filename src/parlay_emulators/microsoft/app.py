"""The Microsoft emulator as one ASGI app: identity platform, Graph v1.0 and the control API."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from . import control, graph, identity
from .errors import GraphError, graph_error
from .faults import FaultMiddleware
from .store import Store
from .tokens import Signer


async def _graph_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GraphError)
    return graph_error(request, exc)


def create_app(store: Store | None = None) -> Starlette:
    store = store or Store()
    app = Starlette(
        routes=[*control.routes(), *graph.routes(), *identity.routes()],
        exception_handlers={GraphError: _graph_error},
        middleware=[Middleware(FaultMiddleware, store=store)],
    )
    app.state.store = store
    app.state.signer = Signer()
    return app
