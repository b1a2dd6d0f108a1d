"""The outbox worker, as an integrator and an operator see it (both databases): jobs enqueued in
a use case's transaction coalesce by key; claims are leases a dead worker loses; handlers say
retryable or permanent; Retry-After is honoured; dead jobs show in ``parlay jobs`` and
``/metrics``; housekeeping prunes what is spent."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from parlay.db.models import AuthSession
from parlay.db.scheduling_models import IdempotencyRecord, OutboxJob
from parlay.jobs import queue
from parlay.jobs.runner import Worker, WorkerConfig
from parlay.services.outbox import Job, Permanent, Retryable
from parlay.services.uow import unit_of_work
from tests.conftest import Person
from tests.jobs.helpers import FakeClock, enqueue, eventually, job, jobs

PARLAY = str(Path(sys.executable).parent / "parlay")


def make_worker(app: Any, handlers: dict[str, Any], clock: FakeClock, **config: Any) -> Worker:
    return Worker(
        app.state.ctx.db,
        handlers,
        user_clock=app.state.ctx.now,
        clock=clock,
        config=WorkerConfig(**config),
        name="test-worker",
    )


async def test_enqueueing_a_pending_key_again_coalesces_into_one_job(app: Any) -> None:
    ctx, clock = app.state.ctx, FakeClock()
    await enqueue(ctx, "calendar.sync", "calendar:m1:c1", {"meeting": "m1", "v": 1})
    await enqueue(ctx, "calendar.sync", "calendar:m1:c1", {"meeting": "m1", "v": 2}, delay=5)
    await enqueue(ctx, "calendar.sync", "calendar:m2:c1", {"meeting": "m2", "v": 1}, delay=6)
    row = await job(ctx.db, "calendar:m1:c1")
    assert row.payload == {"meeting": "m1", "v": 2} and row.status == "pending"
    assert row.run_after > row.created_at  # refreshed to the later enqueue's delay

    # A job rolled back with its use case never exists.
    with pytest.raises(RuntimeError):
        async with unit_of_work(ctx) as uow:
            await uow.enqueue("calendar.sync", "calendar:m3:c1", {"meeting": "m3"})
            raise RuntimeError("the booking failed")
    assert await jobs(ctx.db, "calendar:m3:c1") == []

    # While a key's job runs, a new enqueue waits beside it: the running one may carry the
    # previous state.
    seen: list[Job] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def deliver(j: Job) -> None:
        seen.append(j)
        started.set()
        await release.wait()

    clock.advance(10)
    worker = make_worker(app, {"calendar.sync": deliver}, clock)
    running = asyncio.create_task(worker.run_one())
    await started.wait()
    await enqueue(ctx, "calendar.sync", "calendar:m1:c1", {"meeting": "m1", "v": 3})
    assert [r.status for r in await jobs(ctx.db, "calendar:m1:c1")] == ["running", "pending"]
    release.set()
    assert await running
    assert seen[0].payload == {"meeting": "m1", "v": 2} and seen[0].attempts == 1
    while await worker.run_one():
        pass
    assert sorted((j.dedupe_key, j.payload["v"]) for j in seen[1:]) == [
        ("calendar:m1:c1", 3),
        ("calendar:m2:c1", 1),
    ]
    assert {r.status for r in await jobs(ctx.db)} == {"done"}


async def test_a_dead_workers_lease_runs_out_and_the_job_is_claimed_again(app: Any) -> None:
    ctx, clock = app.state.ctx, FakeClock()
    await enqueue(ctx, "calendar.sync", "calendar:m1:c1", {"meeting": "m1"})
    # A worker claims the job, then dies: it never settles it.
    claimed = await queue.claim(
        ctx.db, {"calendar.sync"}, "dead-worker:1", clock(), timedelta(seconds=60), 8
    )
    assert claimed is not None and claimed.attempts == 1
    row = await job(ctx.db, "calendar:m1:c1")
    assert (row.status, row.claimed_by) == ("running", "dead-worker:1")

    ran: list[Job] = []

    async def deliver(j: Job) -> None:
        ran.append(j)

    worker = make_worker(app, {"calendar.sync": deliver}, clock, lease_seconds=60)
    clock.advance(59)
    assert not await worker.run_one()  # still leased
    clock.advance(2)
    assert await worker.run_one()
    assert [(j.id, j.attempts) for j in ran] == [(claimed.id, 2)]
    assert (await job(ctx.db, "calendar:m1:c1")).status == "done"
    # The dead worker, back from the dead, can no longer settle the job it lost.
    assert not await queue.complete(ctx.db, claimed.id, "dead-worker:1", clock())
    assert not await queue.bury(ctx.db, claimed.id, "dead-worker:1", clock(), "late")
    assert (await job(ctx.db, "calendar:m1:c1")).status == "done"


async def test_a_job_whose_worker_dies_on_its_last_attempt_is_dead_lettered(app: Any) -> None:
    ctx, clock = app.state.ctx, FakeClock()
    await enqueue(ctx, "calendar.sync", "calendar:m1:c1", {})
    lease = timedelta(seconds=10)
    for n in range(3):
        assert await queue.claim(ctx.db, {"calendar.sync"}, f"w{n}", clock(), lease, 3)
        clock.advance(11)
    assert await queue.claim(ctx.db, {"calendar.sync"}, "w3", clock(), lease, 3) is None
    row = await job(ctx.db, "calendar:m1:c1")
    assert row.status == "dead" and "lease expired" in (row.last_error or "")


async def test_the_lease_is_renewed_while_the_handler_runs_and_lost_leases_stop_it(
    app: Any,
) -> None:
    ctx, clock = app.state.ctx, FakeClock()
    await enqueue(ctx, "calendar.sync", "k1", {})
    started, release = asyncio.Event(), asyncio.Event()
    outcomes: list[str] = []

    async def slow(j: Job) -> None:
        started.set()
        try:
            await release.wait()
            outcomes.append("finished")
        except asyncio.CancelledError:
            outcomes.append("cancelled")
            raise

    # Heartbeats every 0.03 s of real time; the lease is 0.1 s of the (fake) transport clock.
    worker = make_worker(app, {"calendar.sync": slow}, clock, lease_seconds=0.1)
    other = make_worker(app, {"calendar.sync": slow}, clock, lease_seconds=0.1)
    running = asyncio.create_task(worker.run_one())
    await started.wait()
    clock.advance(3600)  # far past the first lease: only renewals keep the job

    async def renewed() -> bool:
        lease_until = (await job(ctx.db, "k1")).lease_until
        return lease_until is not None and lease_until > clock()

    await eventually(renewed)
    assert not await other.run_one()  # renewed: nobody else may take it
    release.set()
    assert await running
    assert outcomes == ["finished"]
    row = await job(ctx.db, "k1")
    assert (row.status, row.attempts) == ("done", 1)

    # Someone else holds the lease now (it ran out and was claimed): the handler is stopped.
    await enqueue(ctx, "calendar.sync", "k2", {})
    started.clear()
    release.clear()
    running = asyncio.create_task(worker.run_one())
    await started.wait()
    async with ctx.db.write() as session:
        row = await session.get(OutboxJob, (await job(ctx.db, "k2")).id)
        assert row is not None
        row.claimed_by = "another-worker:1"
    assert await running
    assert outcomes == ["finished", "cancelled"]
    row = await job(ctx.db, "k2")
    assert (row.status, row.claimed_by) == ("running", "another-worker:1")


async def test_retryable_permanent_and_retry_after(app: Any) -> None:
    ctx, clock = app.state.ctx, FakeClock()
    calls: dict[str, list[int]] = {"flaky": [], "throttled": [], "broken": [], "gone": []}

    async def flaky(j: Job) -> None:
        calls["flaky"].append(j.attempts)
        raise ConnectionError("provider said 503")

    async def throttled(j: Job) -> None:
        calls["throttled"].append(j.attempts)
        if j.attempts == 1:
            raise Retryable("429 Too Many Requests", retry_after=120)

    async def broken(j: Job) -> None:
        calls["broken"].append(j.attempts)
        raise Retryable("timeout")

    async def gone(j: Job) -> None:
        calls["gone"].append(j.attempts)
        raise Permanent("calendar was deleted")

    handlers = {"flaky": flaky, "throttled": throttled, "broken": broken, "gone": gone}
    worker = make_worker(app, handlers, clock, max_attempts=3, backoff_base_seconds=2)
    for kind in handlers:
        await enqueue(ctx, kind, f"key:{kind}", {})
    while await worker.run_one():
        pass
    assert calls == {"flaky": [1], "throttled": [1], "broken": [1], "gone": [1]}

    gone_row = await job(ctx.db, "key:gone")
    assert gone_row.status == "dead" and "calendar was deleted" in (gone_row.last_error or "")
    flaky_row = await job(ctx.db, "key:flaky")
    assert flaky_row.status == "pending" and "503" in (flaky_row.last_error or "")
    # Backoff with jitter: the first retry waits between half and all of the base.
    assert clock() + timedelta(seconds=1) <= flaky_row.run_after <= clock() + timedelta(seconds=2)

    # Retry-After: nothing is claimable before the provider's 120 s are up.
    clock.advance(119)
    while await worker.run_one():
        pass
    assert calls["throttled"] == [1]
    assert (await job(ctx.db, "key:throttled")).status == "pending"
    clock.advance(1)
    while await worker.run_one():
        pass
    assert calls["throttled"] == [1, 2]
    assert (await job(ctx.db, "key:throttled")).status == "done"

    # A job that keeps failing is dead-lettered after the bound, its last error kept.
    for _ in range(10):
        clock.advance(3600)
        while await worker.run_one():
            pass
    assert calls["flaky"] == [1, 2, 3] and calls["broken"] == [1, 2, 3]
    for key in ("key:flaky", "key:broken"):
        row = await job(ctx.db, key)
        assert row.status == "dead" and row.attempts == 3
    assert "503" in ((await job(ctx.db, "key:flaky")).last_error or "")


async def test_a_failed_job_gives_way_to_a_newer_enqueue_of_its_key(app: Any) -> None:
    """A reschedule enqueued while the provider throttles: one pending job with the latest
    payload remains, and it still waits out the Retry-After."""
    ctx, clock = app.state.ctx, FakeClock()
    started, release = asyncio.Event(), asyncio.Event()
    seen: list[dict[str, Any]] = []

    async def deliver(j: Job) -> None:
        seen.append(j.payload)
        if len(seen) == 1:
            started.set()
            await release.wait()
            raise Retryable("429", retry_after=60)

    worker = make_worker(app, {"calendar.sync": deliver}, clock)
    await enqueue(ctx, "calendar.sync", "calendar:m1:c1", {"v": 1})
    running = asyncio.create_task(worker.run_one())
    await started.wait()
    await enqueue(ctx, "calendar.sync", "calendar:m1:c1", {"v": 2})
    release.set()
    assert await running
    rows = await jobs(ctx.db, "calendar:m1:c1")
    assert [(r.status, r.payload) for r in rows] == [("done", {"v": 1}), ("pending", {"v": 2})]
    assert rows[1].run_after >= clock() + timedelta(seconds=60)
    clock.advance(59)
    assert not await worker.run_one()
    clock.advance(1)
    assert await worker.run_one()
    assert seen == [{"v": 1}, {"v": 2}]


async def test_a_worker_claims_only_kinds_it_handles(app: Any) -> None:
    ctx, clock = app.state.ctx, FakeClock()
    await enqueue(ctx, "email.send", "email:1", {})
    worker = make_worker(app, {"calendar.sync": lambda j: asyncio.sleep(0)}, clock)
    assert not await worker.run_one()
    assert (await job(ctx.db, "email:1")).status == "pending"


async def test_dead_jobs_show_in_parlay_jobs_and_metrics(
    app: Any, anon: httpx.AsyncClient, database_url: str, tmp_path: Path
) -> None:
    ctx, clock = app.state.ctx, FakeClock()

    async def gone(j: Job) -> None:
        raise Permanent("404 from the provider: calendar c9 is gone")

    await enqueue(ctx, "calendar.sync", "calendar:m1:c9", {})
    await enqueue(ctx, "calendar.sync", "calendar:m2:c9", {})
    await enqueue(ctx, "email.send", "email:m1", {})  # nobody handles it here: stays pending
    worker = make_worker(app, {"calendar.sync": gone}, clock)
    while await worker.run_one():
        pass

    r = await anon.get("/metrics")
    assert r.status_code == 200
    assert 'parlay_outbox_jobs{status="dead"} 2.0' in r.text
    assert 'parlay_outbox_jobs{status="pending"} 1.0' in r.text
    assert 'parlay_outbox_jobs{status="running"} 0.0' in r.text
    assert "parlay_outbox_oldest_pending_seconds " in r.text

    env = {
        **os.environ,
        "PARLAY_DATABASE_URL": database_url,
        "PARLAY_DATA_DIR": str(tmp_path / "var"),
        "PARLAY_SECRET_KEY": "test-secret-key",
    }
    proc = await asyncio.create_subprocess_exec(
        PARLAY, "jobs", env=env, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    text = out.decode()
    assert proc.returncode == 0, text
    assert "pending 1" in text and "running 0" in text and "dead 2" in text
    assert text.count("calendar.sync") == 2
    assert "key=calendar:m1:c9" in text and "calendar c9 is gone" in text
    assert "oldest pending job waiting" in text


async def test_housekeeping_prunes_done_jobs_spent_idempotency_records_and_expired_sessions(
    app: Any, alice: Person
) -> None:
    ctx, clock = app.state.ctx, FakeClock()
    user_now = ctx.now()
    async with ctx.db.write() as session:
        for key, days in (("old", 2), ("recent", 0)):
            session.add(
                OutboxJob(
                    kind="calendar.sync",
                    dedupe_key=f"job:{key}",
                    payload={},
                    status="done",
                    attempts=1,
                    run_after=clock() - timedelta(days=days, hours=1),
                    created_at=clock() - timedelta(days=days, hours=1),
                    finished_at=clock() - timedelta(days=days, hours=1),
                )
            )
        session.add(
            OutboxJob(
                kind="calendar.sync",
                dedupe_key="job:dead",
                payload={},
                status="dead",
                attempts=8,
                run_after=clock() - timedelta(days=9),
                created_at=clock() - timedelta(days=9),
                finished_at=clock() - timedelta(days=9),
            )
        )
        for key, days in (("old", 8), ("recent", 6)):
            session.add(
                IdempotencyRecord(
                    user_id=alice.id,
                    key=key,
                    status_code=201,
                    body={},
                    created_at=user_now - timedelta(days=days),
                )
            )
        session.add(
            AuthSession(
                token_hash="e" * 64,
                user_id=alice.id,
                csrf_token="x",
                created_at=user_now - timedelta(days=40),
                expires_at=user_now - timedelta(days=10),
            )
        )
    worker = make_worker(app, {}, clock)
    pruned = await worker.housekeep()
    assert (pruned.jobs, pruned.idempotency_records, pruned.sessions) == (1, 1, 1)
    assert sorted(r.dedupe_key or "" for r in await jobs(ctx.db)) == ["job:dead", "job:recent"]
    r = await alice.client.get("/api/v1/me")
    assert r.status_code == 200  # the live session survives
