"""Server-rendered page shells; the data comes from the JSON API via small ES modules."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from parlay.web.deps import SESSION_COOKIE

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def _signed_in(request: Request) -> bool:
    return bool(request.cookies.get(SESSION_COOKIE))


def _page(request: Request, name: str, **context: object) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context)


@router.get("/login")
async def login_page(request: Request) -> Response:
    return _page(request, "login.html", mode="login")


@router.get("/signup")
async def signup_page(request: Request) -> Response:
    return _page(request, "login.html", mode="signup")


@router.get("/")
async def home(request: Request) -> Response:
    if not _signed_in(request):
        return RedirectResponse("/login", status_code=303)
    return _page(request, "app.html", room_id="")


@router.get("/rooms/{room_id}")
async def room_page(request: Request, room_id: str) -> Response:
    if not _signed_in(request):
        return RedirectResponse(f"/login?next=/rooms/{room_id}", status_code=303)
    return _page(request, "app.html", room_id=room_id)
