"""Server-rendered page shells; the data comes from the JSON API via small ES modules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from parlay.db.models import User
from parlay.db.scheduling_models import Meeting
from parlay.web.deps import SESSION_COOKIE

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _signed_in(request: Request) -> bool:
    return bool(request.cookies.get(SESSION_COOKIE))


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
    if not _signed_in(request):
        return RedirectResponse("/login", status_code=303)
    return _page(request, "app.html", room_id="")


@router.get("/rooms/{room_id}")
async def room_page(request: Request, room_id: str) -> Response:
    if not _signed_in(request):
        here = f"/rooms/{room_id}"
        if request.url.query:  # keep e.g. ?invite=… (a schedule link) through signing in
            here += f"?{request.url.query}"
        next_path = quote(here, safe="")
        return RedirectResponse(f"/login?next={next_path}", status_code=303)
    return _page(request, "app.html", room_id=room_id)


@dataclass(frozen=True)
class JoinDetails:
    host: str
    start: str  # UTC ("2026-12-01T08:30:00Z"); JS shows it in the viewer's zone
    end: str
    status: str
    duration_minutes: int


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _meeting_by_join_token(request: Request, token: str) -> JoinDetails | None:
    """The little a join page shows (TODO: a service function once the video feature lands)."""
    if not token or len(token) > 64:
        return None
    async with request.app.state.ctx.db.read() as session:
        row = (
            await session.execute(
                select(Meeting, User.display_name)
                .join(User, User.id == Meeting.host_id)
                .where(Meeting.join_token == token)
            )
        ).first()
    if row is None:
        return None
    meeting, host = row
    minutes = int((meeting.end - meeting.start).total_seconds() // 60)
    return JoinDetails(host, _utc(meeting.start), _utc(meeting.end), meeting.status, minutes)


@router.get("/m/{join_token}")
async def join_page(request: Request, join_token: str) -> Response:
    meeting = await _meeting_by_join_token(request, join_token)
    if meeting is None:
        return _page(request, "not_found.html", status_code=404)
    return _page(request, "join.html", meeting=meeting)
