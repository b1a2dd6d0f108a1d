"""The hub's direct writes: one encoded frame written to every idle socket in one pass, and
the queue whenever a socket cannot take it at once, without ever reordering, losing or
repeating an event.

The first test drives ``Hub`` and ``Subscription`` with sockets that refuse direct writes at
random moments (a full write buffer, another send under way) while their senders drain the
queue with awaits in between; the second serves the app with production's WebSocket protocol
and checks what real sockets of a busy room receive.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from parlay.realtime.hub import Hub, LiveEvent, Subscription
from tests.conftest import Person, sign_up_and_in
from tests.web.test_live import connect, token_of

USERS = ("u1", "u2", "u3")


class FakeSocket:
    """What a socket received, through either path, in order."""

    def __init__(self, refuse: random.Random | None, refuse_rate: float) -> None:
        self.got: list[int] = []
        self._refuse = refuse
        self._rate = refuse_rate

    def direct(self, event: LiveEvent, frame: bytes) -> bool:
        if self._refuse is not None and self._refuse.random() < self._rate:
            return False  # e.g. its write buffer is over the high-water mark
        assert json.loads(frame) == event.wire()
        self.got.append(event.id)
        return True


async def _sender(sub: Subscription, socket: FakeSocket, pause: random.Random) -> None:
    """The socket's sender as ``parlay.web.ws`` runs it: take, (maybe) wait, write, done."""
    while True:
        event = await sub.next()
        if event is None:
            return
        for _ in range(pause.randrange(3)):
            await asyncio.sleep(0)  # the write waits for the socket lock / writable
        socket.got.append(event.id)
        sub.done()


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    batches=st.lists(st.lists(st.sampled_from(USERS), min_size=1, max_size=3), max_size=25),
    refuse_rate=st.sampled_from([0.0, 0.3, 1.0]),
)
def test_every_socket_gets_its_events_once_in_order(
    seed: int, batches: list[list[str]], refuse_rate: float
) -> None:
    rng = random.Random(seed)
    events = [
        LiveEvent(n + 1, "message.created", {"n": n, "text": "é"}, frozenset(recipients))
        for n, recipients in enumerate(batches)
    ]

    async def scenario() -> None:
        published: list[LiveEvent] = []

        async def fetch_after(last_id: int) -> list[LiveEvent]:
            await asyncio.sleep(0)  # a database read lets the senders run
            return [e for e in published if e.id > last_id][:4]

        async def last_id() -> int:
            return 0

        hub = Hub(fetch_after, last_id, poll_seconds=0.01)
        await hub.start()
        sockets: dict[tuple[str, int], FakeSocket] = {}
        senders = []
        for user in USERS:
            for k in range(2):  # two sockets per user: one direct-capable, one not
                sub = hub.subscribe(user)
                socket = FakeSocket(random.Random(rng.random()), refuse_rate)
                if k == 0:
                    sub.direct = socket.direct
                sockets[(user, k)] = socket
                senders.append(asyncio.create_task(_sender(sub, socket, random.Random(seed + k))))
        for event in events:
            published.append(event)
            if rng.random() < 0.5:
                hub.wake()
            for _ in range(rng.randrange(3)):
                await asyncio.sleep(0)
        hub.wake()
        for _ in range(200):
            if hub.last_id == len(events) and all(
                len(s.got) == sum(1 for e in events if user in e.recipients)
                for (user, _k), s in sockets.items()
            ):
                break
            await asyncio.sleep(0.005)
        await hub.stop()
        for task in senders:
            task.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        for (user, _k), socket in sockets.items():
            assert socket.got == [e.id for e in events if user in e.recipients], (user, _k)

    asyncio.run(scenario())


async def test_a_busy_room_reaches_every_socket_in_order(
    server: str, app: Any, room: dict[str, Any], alice: Person, bob: Person
) -> None:
    """Ten members with a socket each (production's protocol, so the hub writes directly);
    three writers post twelve messages at once: every socket gets all of them, once, in
    cursor order, with the body that was posted."""
    others = [
        await sign_up_and_in(app, f"member{n}", email=f"member{n}@example.com") for n in range(8)
    ]
    for person in others:
        r = await alice.client.post(
            f"/api/v1/rooms/{room['id']}/members", json={"email": person.email}
        )
        assert r.status_code == 201, r.text
    members = [alice, bob, *others]
    sockets = [(await connect(server, await token_of(p)))[0] for p in members]

    async def write(person: Person, n: int) -> None:
        for k in range(4):
            r = await person.client.post(
                f"/api/v1/rooms/{room['id']}/messages", json={"body": f"w{n}.{k} ✓"}
            )
            assert r.status_code == 201, r.text

    await asyncio.gather(*(write(p, n) for n, p in enumerate(members[:3])))
    seen = []
    for ws in sockets:
        got: list[tuple[int, str]] = []
        while len(got) < 12:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame["type"] == "message.created":
                got.append((int(frame["cursor"]), frame["data"]["body"]))
        seen.append(got)
    first = seen[0]
    assert [c for c, _ in first] == sorted({c for c, _ in first})
    assert sorted(b for _, b in first) == sorted(f"w{n}.{k} ✓" for n in range(3) for k in range(4))
    assert all(got == first for got in seen), "sockets of one room saw different sequences"
    for ws in sockets:
        await ws.close()
    for person in others:
        await person.client.aclose()
