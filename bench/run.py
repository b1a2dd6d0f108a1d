"""``make bench``: run every bench module, print one table, write ``var/bench/results.json``.

A bench module is a file ``bench/<name>.py`` exposing ``run() -> list[dict]``.  Each dict has a
``name`` and either ``value`` + ``unit`` or ``median_ms``; ``target`` (or ``target_ms``) is the
goal if there is one, ``meets_target`` says whether it was met.  Other keys are kept in the
JSON as details.  To add a bench, add its module name to ``BENCHES``; a listed module whose file
does not exist (yet) is reported as skipped.  ``python bench/run.py slot_engine`` runs only the
named ones.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = ROOT / "var" / "bench" / "results.json"

#: Bench modules, in the order they run.  One line per module.
BENCHES: list[str] = [
    "slot_engine",  # domain: slot computation vs Cal.com (pure CPU)
    "http_latency",  # dates vs healthz: one warm caller, and 200 callers over 200 invites
    "ws_delivery",  # posts/s and delivery over 500 WebSockets: SQLite, PostgreSQL, 2 nodes + Redis
    "ws_fanout",  # raw websockets echo + broadcast to 1,000 vs Parlay ping/pong + a 1,000-member room
    "booking_throughput",  # 50 simultaneous bookers across 10 hosts: bookings/s, no 5xx, no overlap
    "calendar_sync",  # dates with 1,000 mirrored busy events vs healthz; full/incremental sync times
    "video_join",  # Join to first remote frame (p50 of 10), mesh and Janus; server CPU per join
    "notify_fanout",  # a booking in a 50-member room: 49 in-app notifications, 50 e-mails to SMTP
]


def normalize(module: str, row: dict[str, Any]) -> dict[str, Any]:
    """One table row: ``bench, name, value, unit, target, meets_target`` plus the details."""
    if "value" in row:
        value, unit = row["value"], row.get("unit", "")
    elif "median_ms" in row:
        value, unit = row["median_ms"], "ms (median)"
    else:
        value, unit = None, ""
    target = row.get("target", row.get("target_ms"))
    details = {
        k: v
        for k, v in row.items()
        if k not in {"name", "value", "unit", "target", "target_ms", "meets_target"}
    }
    return {
        "bench": module,
        "name": str(row.get("name", module)),
        "value": value,
        "unit": unit,
        "target": target,
        "meets_target": row.get("meets_target"),
        "details": details,
    }


def run_one(module_name: str) -> tuple[str, list[dict[str, Any]]]:
    """``(status, rows)``; status is ``ok``, ``skipped: ...`` or ``failed: ...``."""
    if not (BENCH_DIR / f"{module_name}.py").exists():
        return "skipped: not written yet", []
    try:
        module = importlib.import_module(module_name)
        rows = module.run()
    except Exception as exc:
        traceback.print_exc()
        return f"failed: {type(exc).__name__}: {exc}", []
    return "ok", [normalize(module_name, dict(row)) for row in rows]


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def print_table(rows: list[dict[str, Any]], statuses: dict[str, str]) -> None:
    header = f"{'name':<32}{'value':>12}  {'unit':<12}{'target':>10}  {'met':<4}"
    print(header)
    print("-" * len(header))
    for row in rows:
        target = row["target"]
        met = "" if row["meets_target"] is None else _show(row["meets_target"])
        print(
            f"{row['name']:<32}{_show(row['value']):>12}  {row['unit']:<12}"
            f"{_show(target) if target is not None else '':>10}  {met:<4}"
        )
    for module, status in statuses.items():
        if status != "ok":
            print(f"({module}: {status})")


def _json_safe(value: Any) -> Any:
    """NaN/infinity become null, so the file is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def main(argv: list[str]) -> int:
    # Bench modules import their helpers as ``common`` or as ``bench.common``.
    for path in (ROOT, BENCH_DIR):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    chosen = [name for name in BENCHES if not argv or name in argv]
    rows: list[dict[str, Any]] = []
    statuses: dict[str, str] = {}
    for name in chosen:
        print(f"==> bench {name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        status, found = run_one(name)
        statuses[name] = status
        rows.extend(found)
        print(f"    {status} ({time.perf_counter() - started:.1f} s)", file=sys.stderr, flush=True)
    print_table(rows, statuses)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "python": platform.python_version(),
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
                "benches": statuses,
                "results": _json_safe(rows),
            },
            indent=2,
            default=str,
            allow_nan=False,
        )
        + "\n"
    )
    print(f"written {RESULTS.relative_to(ROOT)}")
    return 1 if any(s.startswith("failed") for s in statuses.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
