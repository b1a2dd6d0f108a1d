"""Server-rendered page shells; the data comes from the JSON API via small ES modules."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ConfigDict

from parlay.domain.errors import Unauthenticated
from parlay.services import meetings
from parlay.services.video import VideoService
from parlay.web.deps import SESSION_COOKIE, optional_principal

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


async def _signed_in(request: Request) -> bool:
    """A live session, not merely a cookie: a page shell served to a signed-out cookie would
    start its scripts (and a live socket the server refuses) before bouncing to sign-in."""
    if not request.cookies.get(SESSION_COOKIE):
        return False
    return await optional_principal(request) is not None


def safe_next(raw: str | None) -> str:
    """A same-site path to return to after signing in ("/" unless ``raw`` is one)."""
    if not raw or not raw.startswith("/") or raw.startswith("//"):
        return "/"
    if any(ch == "\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in raw):
        return "/"
    return raw


def _page(request: Request, name: str, status_code: int = 200, **context: object) -> HTMLResponse:
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/login")
async def login_page(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    return _page(request, "login.html", mode="login", next_path=next_path)


@router.get("/signup")
async def signup_page(request: Request) -> Response:
    next_path = safe_next(request.query_params.get("next"))
    return _page(request, "login.html", mode="signup", next_path=next_path)


@router.get("/")
async def home(request: Request) -> Response:
    if not await _signed_in(request):
        return RedirectResponse("/login", status_code=303)
    return _page(request, "app.html", room_id="")


@router.get("/settings")
async def settings_page(request: Request) -> Response:
    if not await _signed_in(request):
        return RedirectResponse(f"/login?next={quote('/settings', safe='')}", status_code=303)
    return _page(request, "settings.html")


@router.get("/calendars")
async def calendars_page(request: Request) -> Response:
    """Linked calendars: accounts, their calendars' toggles, sync now, disconnect."""
    if not await _signed_in(request):
        return RedirectResponse(f"/login?next={quote('/calendars', safe='')}", status_code=303)
    return _page(request, "calendars.html")


@router.get("/rooms/{room_id}")
async def room_page(request: Request, room_id: str) -> Response:
    if not await _signed_in(request):
        here = f"/rooms/{room_id}"
        if request.url.query:  # keep e.g. ?invite=… (a schedule link) through signing in
            here += f"?{request.url.query}"
        next_path = quote(here, safe="")
        return RedirectResponse(f"/login?next={next_path}", status_code=303)
    return _page(request, "app.html", room_id=room_id)


@router.get("/m/{join_token}")
async def join_page(request: Request, join_token: str) -> Response:
    # A signed-in member of the meeting's room also gets the way back to the room.
    try:
        principal = await optional_principal(request)
    except Unauthenticated:
        principal = None
    viewer = principal.user if principal is not None else None
    meeting = await meetings.get_join_details(request.app.state.ctx, join_token, viewer)
    if meeting is None:
        return _page(request, "not_found.html", status_code=404)
    if meeting.status == "cancelled":  # the link is dead: 410, the page says who and why
        return _page(request, "join.html", status_code=410, meeting=meeting, call=None)
    video: VideoService = request.app.state.container.video
    call = await video.get_call_page(join_token, member=meeting.room_id is not None)
    return _page(request, "join.html", meeting=meeting, call=call, join_token=join_token)


class GuestIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str


@router.post("/m/{join_token}/guests", status_code=201)
async def guest_pass(join_token: str, body: GuestIn, request: Request) -> dict[str, str]:
    """A guest pass for someone who holds the link (the lobby's credential; README)."""
    video: VideoService = request.app.state.container.video
    token, guest = await video.check_guest_pass(join_token, body.name)
    return {"token": token, "name": guest.name}


@router.get("/m/{join_token}/meeting.ics")
async def join_ics(request: Request, join_token: str) -> Response:
    """The meeting's .ics for whoever holds the join link (no room link in it)."""
    content = await meetings.get_join_ics(request.app.state.ctx, join_token)
    if content is None:
        return _page(request, "not_found.html", status_code=404)
    return Response(
        content,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="meeting.ics"',
            "Cache-Control": "no-store",
        },
    )
