"""Query parameters and JSON bodies read by hand, for the few routes called hardest
(availability; posting a chat message).

FastAPI's per-request parameter machinery (dependency solving, a pydantic field per
parameter, the response model's encoder) cost ~40% of a ``dates`` request's CPU on the
reference machine, more than the slot engine and the database together, and a tenth of a
chat server's CPU under load.  These routes take the bare ``Request`` and read their
parameters and body here, with the same pydantic types, so a bad value is the same 422
(``RequestValidationError``, located ``("query", name)`` or ``("body", ...)``) as before;
``openapi_parameters`` keeps the published schema as FastAPI would have written it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError
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


T = TypeVar("T")


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


async def json_body(request: Request, adapter: TypeAdapter[T]) -> T:
    """The request's JSON body, validated by ``adapter`` as FastAPI would: a body sent as
    another media type, a missing body, malformed JSON or a wrong value is a 422."""
    content_type = request.headers.get("content-type")
    raw = await request.body()
    if content_type is not None and not _is_json(content_type):
        error = {
            "type": "model_attributes_type",
            "loc": ("body",),
            "msg": "Input should be a JSON object (Content-Type: application/json)",
            "input": None,
        }
        raise RequestValidationError([error], body=raw)
    if not raw:
        error = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([error], body=raw)
    try:
        return adapter.validate_json(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors, body=raw) from None


def path_param(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    return value


def openapi_parameters(
    path: list[str],
    query: dict[str, tuple[dict[str, Any], bool]],
    body: type[BaseModel] | None = None,
) -> Any:
    """``openapi_extra`` naming the route's parameters: string path parameters, query
    parameters by name with their JSON schema and whether they are required, and the model of
    a required JSON body."""
    extra: dict[str, Any] = (
        {}
        if body is None
        else {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body.model_json_schema()}},
            }
        }
    )
    return extra | {
        "parameters": [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in path
        ]
        + [
            {"name": n, "in": "query", "required": required, "schema": schema}
            for n, (schema, required) in query.items()
        ]
    }
