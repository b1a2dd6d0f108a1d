"""Query parameters read by hand, for the few routes polled hardest (availability).

FastAPI's per-request parameter machinery (dependency solving, a pydantic field per
parameter, the response model's encoder) cost ~40% of a ``dates`` request's CPU on the
reference machine, more than the slot engine and the database together.  These routes take
the bare ``Request`` and read their parameters here, with the same pydantic types, so a bad
value is the same 422 (``RequestValidationError``, located ``("query", name)``) as before;
``openapi_parameters`` keeps the published schema as FastAPI would have written it.
"""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.requests import Request


def query_value(
    request: Request, name: str, adapter: TypeAdapter[Any], *, required: bool = True
) -> Any:
    """The validated value of query parameter ``name`` (the last one, as FastAPI takes it),
    or None if it is absent and optional."""
    raw = request.query_params.get(name)
    if raw is None:
        if not required:
            return None
        error = {"type": "missing", "loc": ("query", name), "msg": "Field required", "input": None}
        raise RequestValidationError([error])
    try:
        return adapter.validate_python(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("query", name, *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from None


def path_param(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    return value


def openapi_parameters(path: list[str], query: dict[str, tuple[dict[str, Any], bool]]) -> Any:
    """``openapi_extra`` naming the route's parameters: string path parameters, and query
    parameters by name with their JSON schema and whether they are required."""
    return {
        "parameters": [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in path
        ]
        + [
            {"name": n, "in": "query", "required": required, "schema": schema}
            for n, (schema, required) in query.items()
        ]
    }
