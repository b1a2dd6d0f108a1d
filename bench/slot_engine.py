"""Slot engine micro-benchmark: ``python bench/slot_engine.py``.

Median wall time of :func:`parlay.domain.slots.compute_invite_slots` for a Mon-Fri
09:00-17:00 Europe/Berlin week, 30-minute slots and a seeded set of random busy intervals.
The reference point is Cal.com's slot computation at about 65 ms for 30 days and 1,000
busy intervals; the target is at least 50x faster (<= 1.3 ms).
"""

from __future__ import annotations

import math
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from parlay.domain.availability import parse_time_zone, parse_weekly
from parlay.domain.intervals import Interval
from parlay.domain.slots import compute_invite_slots

CALCOM_MS = 65.0
TARGET_MS = CALCOM_MS / 50
NOW = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
ZONE = parse_time_zone("Europe/Berlin")
RULES = parse_weekly(
    {d: [{"start": "09:00", "end": "17:00"}] for d in ("mon", "tue", "wed", "thu", "fri")}
)
DURATION = timedelta(minutes=30)
NOTICE = timedelta(minutes=60)
HORIZON = timedelta(days=90)


def random_busy(count: int, days: int, seed: int = 42) -> list[Interval]:
    rng = random.Random(seed)
    busy = []
    for _ in range(count):
        start = NOW + timedelta(minutes=rng.randrange(days * 24 * 60))
        busy.append(Interval(start, start + timedelta(minutes=rng.choice((15, 30, 45, 60, 90)))))
    return busy


def measure(days: int, busy_count: int, repeats: int) -> dict[str, Any]:
    busy = random_busy(busy_count, days)
    end = NOW + timedelta(days=days)

    def call() -> list[Interval]:
        return compute_invite_slots(RULES, ZONE, DURATION, busy, NOW, NOTICE, HORIZON, NOW, end)

    slots = call()
    for _ in range(max(3, repeats // 20)):
        call()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000)
    return {
        "name": f"slots_{days}d_busy{busy_count}",
        "days": days,
        "busy": busy_count,
        "slots": len(slots),
        "repeats": repeats,
        "median_ms": statistics.median(samples),
        "p90_ms": statistics.quantiles(samples, n=10)[-1],
        "best_ms": min(samples),
    }


def run() -> list[dict[str, Any]]:
    rows = [
        measure(60, 10, 400),
        measure(60, 1_000, 200),
        measure(60, 5_000, 100),
        measure(30, 1_000, 300),
    ]
    by_busy = {row["busy"]: row for row in rows if row["days"] == 60}
    growth = math.log(by_busy[5_000]["median_ms"] / by_busy[1_000]["median_ms"]) / math.log(5)
    for row in rows:
        row["growth_exponent_1k_5k"] = growth
        if row["days"] == 30 and row["busy"] == 1_000:
            row["calcom_ms"] = CALCOM_MS
            row["speedup_vs_calcom"] = CALCOM_MS / row["median_ms"]
            row["target_ms"] = TARGET_MS
            row["meets_target"] = row["median_ms"] <= TARGET_MS
    return rows


def main() -> None:
    rows = run()
    print(f"{'case':<22}{'slots':>7}{'median ms':>12}{'p90 ms':>10}{'best ms':>10}")
    for row in rows:
        print(
            f"{row['name']:<22}{row['slots']:>7}{row['median_ms']:>12.3f}"
            f"{row['p90_ms']:>10.3f}{row['best_ms']:>10.3f}"
        )
    cal = next(r for r in rows if "speedup_vs_calcom" in r)
    print(
        f"30 d x 1,000 busy: {cal['median_ms']:.3f} ms, {cal['speedup_vs_calcom']:.0f}x faster "
        f"than Cal.com (~{CALCOM_MS:.0f} ms); target <= {TARGET_MS:.1f} ms: "
        f"{'met' if cal['meets_target'] else 'MISSED'}"
    )
    print(f"growth exponent, busy 1,000 -> 5,000 (60 d): {rows[0]['growth_exponent_1k_5k']:.2f}")


if __name__ == "__main__":
    main()
