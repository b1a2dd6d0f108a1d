"""Sessions and tokens in the browser: the "API tokens" dialog from the account menu (create,
the secret shown once, last use, revoke; by role and name, clean under axe), and a live stream
the server cannot resume (``hello`` with ``resync``) makes the open room refetch its history."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Account
from tests.e2e.ui import assert_accessible, create_room, messages, open_room, send, sign_up, title

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_api_tokens_from_the_account_menu(open_page: Any, device: str) -> None:
    page = open_page()
    sign_up(page, "Tess Token")

    page.get_by_role("button", name="Tess Token").click()
    page.get_by_role("button", name="API tokens").click()
    dialog = page.get_by_role("dialog", name="API tokens")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("status").filter(has_text="No tokens yet.")).to_be_visible()

    # A name is needed; the dialog says so next to the field.
    dialog.get_by_role("button", name="Create token").click()
    expect(dialog.get_by_label("Token name")).to_have_attribute("aria-invalid", "true")

    dialog.get_by_label("Token name").fill("backup script")
    dialog.get_by_role("button", name="Create token").click()
    secret = dialog.get_by_label("Your new token")
    expect(secret).to_have_value(re.compile(r"^plt_"))
    token = secret.input_value()
    expect(dialog.get_by_role("listitem").filter(has_text="backup script")).to_contain_text(
        "never used"
    )
    assert_accessible(page, "the API tokens dialog")

    # The token works until it is revoked.
    bearer = {"Authorization": f"Bearer {token}"}
    assert page.request.get("/api/v1/me", headers=bearer).ok
    dialog.get_by_role("button", name="Revoke backup script").click()
    expect(dialog.get_by_role("listitem")).to_have_count(0)
    expect(dialog.get_by_role("status").filter(has_text="Revoked backup script.")).to_be_visible()
    assert page.request.get("/api/v1/me", headers=bearer).status == 401

    # Closing forgets the shown secret.
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    page.get_by_role("button", name="Tess Token").click()
    page.get_by_role("button", name="API tokens").click()
    expect(
        page.get_by_role("dialog", name="API tokens").get_by_label("Your new token")
    ).to_be_hidden()


@pytest.mark.parametrize("device", ["desktop"])  # layout plays no part: one size is enough
def test_resync_refetches_the_open_room(
    open_page: Any, pair: tuple[Account, Account], device: str
) -> None:
    ann_account, ben_account = pair
    ann = open_page(account=ann_account)
    ben = open_page(account=ben_account)
    ann.goto("/")
    room_id = create_room(ann, title("Resync"), [ben_account.email])

    # Ben's socket goes through a relay that stops passing the server's frames on when told,
    # as if his stream had lost its place: from then on only a refetch can show him anything.
    relay: dict[str, Any] = {"mute": False, "page_side": None}

    def route(ws: Any) -> None:
        server = ws.connect_to_server()
        relay["page_side"] = ws
        server.on_message(lambda message: None if relay["mute"] else ws.send(message))

    ben.route_web_socket(re.compile(r"/api/v1/ws"), route)
    open_room(ben, room_id)
    expect(ben.locator(".msg-system")).to_have_count(1)

    relay["mute"] = True
    send(ann, "sent while Ben's stream was lost")
    relay["page_side"].send(json.dumps({"type": "hello", "cursor": "1", "resync": True}))
    expect(messages(ben).filter(has_text="sent while Ben's stream was lost")).to_have_count(1)
    expect(ben.locator(".msg-system")).to_have_count(1)  # refetched, not duplicated
