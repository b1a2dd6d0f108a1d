"""``/api/docs`` renders the API's operations in Chromium under Parlay's CSP.

Swagger UI is served from our origin (bundled by a PyPI package) and started by a static
script; the page must show the operations and log no CSP violation or error (the
``open_page`` fixture fails the test on any).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_api_docs_render_under_the_csp(open_page: Any, server: str) -> None:
    page = open_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda request: None if request.url.startswith(server) else outside.append(request.url),
    )
    response = page.goto("/api/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Parlay")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() >= 20
    book_path = page.locator(".opblock-summary-path", has_text="/api/v1/invites/{invite_id}/book")
    expect(book_path.first).to_be_visible()
    # Opening an operation renders its parameters and schema (more of Swagger UI's code runs).
    book = page.locator(".opblock-post", has_text="/api/v1/invites/{invite_id}/book").first
    book.locator(".opblock-summary").click()
    expect(book.locator(".opblock-body")).to_contain_text("invite_id")
    assert outside == [], f"the docs page fetched from elsewhere: {outside}"
