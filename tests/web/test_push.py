"""Web Push (API.md "Notifications") against a local push service that does what a browser's
push service and the browser do: checks the VAPID JWT (RFC 8292) against ``GET /push/key`` and
decrypts the ``aes128gcm`` payload (RFC 8291, written out here from the RFC, not with the
library the server uses) with the keys the test made like a browser does."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from parlay.settings import Settings
from tests.conftest import Person
from tests.web.local_http import Received, Recorder, serving
from tests.web.test_notification_mail import drain
from tests.web.test_scheduling import NOW, book, share

BASE_URL = "https://parlay.example"


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(now=NOW, base_url=BASE_URL)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


class Browser:
    """A browser's push subscription: a P-256 key pair and a 16-byte auth secret."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = bytes(range(16))

    def subscription(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64(point(self.key.public_key())), "auth": b64(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict[str, Any]:
        """RFC 8291 section 3.4 and RFC 8188: one record, keyid = the sender's public key."""
        salt, rs, idlen = body[:16], int.from_bytes(body[16:20], "big"), body[20]
        sender_point, ciphertext = body[21 : 21 + idlen], body[21 + idlen :]
        assert idlen == 65 and len(ciphertext) <= rs
        sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_point)
        shared = self.key.exchange(ec.ECDH(), sender)
        info = b"WebPush: info\x00" + point(self.key.public_key()) + sender_point
        ikm = HKDF(hashes.SHA256(), 32, salt=self.auth, info=info).derive(shared)
        cek = HKDF(hashes.SHA256(), 16, salt=salt, info=b"Content-Encoding: aes128gcm\x00")
        nonce = HKDF(hashes.SHA256(), 12, salt=salt, info=b"Content-Encoding: nonce\x00")
        plain = AESGCM(cek.derive(ikm)).decrypt(nonce.derive(ikm), ciphertext, None)
        data = plain.rstrip(b"\x00")
        assert data.endswith(b"\x02")  # the last record's delimiter
        parsed: dict[str, Any] = json.loads(data[:-1])
        return parsed


def check_vapid(request: Received, public_key: str, endpoint_origin: str) -> dict[str, Any]:
    """What a push service does with ``Authorization: vapid t=<JWT>,k=<key>``."""
    scheme, _, params = request.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == public_key
    head, claims, signature = fields["t"].split(".")
    assert json.loads(unb64(head)) == {"typ": "JWT", "alg": "ES256"}
    raw = unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(public_key))
    key.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if bad
    payload: dict[str, Any] = json.loads(unb64(claims))
    assert payload["aud"] == endpoint_origin
    assert time.time() < payload["exp"] <= time.time() + 24 * 3600
    assert payload["sub"] == BASE_URL
    return payload


async def notification_titles(person: Person) -> list[str]:
    r = await person.client.get("/api/v1/notifications")
    return [n["title"] for n in r.json()["notifications"]]


async def test_each_notification_reaches_the_device_encrypted_and_signed(
    app: Any, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    status = {"code": 201}
    service = Recorder(lambda _r: status["code"])
    async with serving(service) as origin:
        r = await alice.client.get("/api/v1/push/key")
        assert r.status_code == 200, r.text
        public_key = r.json()["public_key"]
        assert len(unb64(public_key)) == 65 and unb64(public_key)[0] == 4
        phone = Browser(f"{origin}/push/alice-phone")
        r = await alice.client.post("/api/v1/me/push-subscriptions", json=phone.subscription())
        assert r.status_code == 201, r.text
        subscription_id = r.json()["id"]
        r = await alice.client.post("/api/v1/me/push-subscriptions", json=phone.subscription())
        assert r.status_code == 201 and r.json()["id"] == subscription_id  # same device

        meeting = await book(
            bob, await share(alice, room["id"], duration=30), "2026-12-01T08:00:00Z"
        )
        assert service.requests == []  # never inside the request
        await drain(app, limit=100)
        (request,) = service.requests
        assert request.method == "POST" and request.path == "/push/alice-phone"
        assert request.headers["content-encoding"] == "aes128gcm"
        assert int(request.headers["ttl"]) > 0
        check_vapid(request, public_key, origin)
        message = phone.decrypt(request.body)
        assert message["title"] == (await notification_titles(alice))[0]
        assert "Bob Brown" in message["body"]
        assert message["url"] == f"{BASE_URL}/rooms/{room['id']}"

        # The push service says the subscription expired: it is deleted, nothing more is sent.
        status["code"] = 410
        for start in ("2026-12-01T09:00:00Z", "2026-12-01T10:00:00Z"):
            r = await bob.client.post(
                f"/api/v1/meetings/{meeting['id']}/reschedule", json={"start": start}
            )
            assert r.status_code == 200, r.text
            await drain(app, limit=100)
        assert [r.status for r in service.requests] == [201, 410]
        assert len(await notification_titles(alice)) == 3  # in-app still has them all
        r = await alice.client.delete(f"/api/v1/me/push-subscriptions/{subscription_id}")
        assert r.status_code == 404


async def test_unsubscribed_devices_and_the_actor_get_nothing(
    app: Any, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    service = Recorder()
    async with serving(service) as origin:
        laptop = Browser(f"{origin}/push/alice-laptop")
        r = await alice.client.post("/api/v1/me/push-subscriptions", json=laptop.subscription())
        subscription_id = r.json()["id"]
        r = await bob.client.delete(f"/api/v1/me/push-subscriptions/{subscription_id}")
        assert r.status_code == 404  # not Bob's
        r = await alice.client.delete(f"/api/v1/me/push-subscriptions/{subscription_id}")
        assert r.status_code == 204
        bob_phone = Browser(f"{origin}/push/bob-phone")
        r = await bob.client.post("/api/v1/me/push-subscriptions", json=bob_phone.subscription())
        assert r.status_code == 201
        await book(bob, await share(alice, room["id"]), "2026-12-01T08:00:00Z")  # Bob acts
        await drain(app, limit=100)
    assert service.requests == []


@pytest.mark.parametrize(
    ("endpoint", "keys", "field"),
    [
        ("http://push.example.com/x", None, "endpoint"),  # http only on loopback, for tests
        ("ftp://127.0.0.1/x", None, "endpoint"),
        ("https://push.example.com/x", {"p256dh": "A" * 87, "auth": b64(bytes(16))}, "keys.p256dh"),
        ("https://push.example.com/x", {"auth": b64(bytes(16))}, None),
    ],
)
async def test_bad_subscriptions_are_refused(
    alice: Person, endpoint: str, keys: dict[str, str] | None, field: str | None
) -> None:
    body: dict[str, Any] = Browser(endpoint).subscription()
    if keys is not None:
        body["keys"] = keys
    r = await alice.client.post("/api/v1/me/push-subscriptions", json=body)
    assert r.status_code == 422, r.text
    if field is not None:
        assert r.json()["error"]["field"] == field


async def test_the_service_worker_is_served_from_the_root(anon: Any) -> None:
    r = await anon.get("/sw.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert "showNotification" in r.text and "openWindow" in r.text
