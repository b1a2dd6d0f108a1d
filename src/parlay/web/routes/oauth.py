"""The OAuth redirect endpoint: ``GET /oauth/{provider}/callback`` (API.md "Calendars").

Only the browser session that started the request may finish it; anything else (missing,
foreign, expired or reused ``state``) links nothing and gets a 400 page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from parlay.services.calendar_oauth import CalendarOAuth, StateInvalid
from parlay.web.deps import optional_principal
from parlay.web.pages import templates

router = APIRouter(include_in_schema=False)


@router.get("/oauth/{provider}/callback")
async def oauth_callback(
    request: Request,
    provider: str,
    state: str | None = None,
    code: str | None = None,
    error: str | None = None,
) -> Response:
    oauth: CalendarOAuth = request.app.state.container.calendar_oauth
    principal = await optional_principal(request)
    session_key = principal.key if principal is not None and principal.via_session else None
    try:
        outcome = await oauth.finish(
            session_key=session_key, provider=provider, state=state, code=code, error=error
        )
    except StateInvalid:
        response = templates.TemplateResponse(request, "oauth_failed.html", {}, status_code=400)
        response.headers["Cache-Control"] = "no-store"
        return response
    return RedirectResponse(outcome.location, status_code=303)
