"""Fixtures for the web tests: the app served by a real uvicorn on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.web.local_http import production_options, serving


@pytest.fixture
async def server(app: Any) -> AsyncIterator[str]:
    """``app`` served as production serves it; yields ``127.0.0.1:<port>``."""
    async with serving(app, **production_options()) as origin:
        yield origin.removeprefix("http://")
