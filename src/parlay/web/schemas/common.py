"""Shared request-schema pieces."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    """A strict request body: unknown fields and type coercion are refused."""

    model_config = ConfigDict(extra="forbid", strict=True, str_strip_whitespace=False)
