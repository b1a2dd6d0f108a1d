"""Which other app nodes are alive, as heard on the signal channel.

A node can die without a word (SIGKILL, a lost host), so each node with live video peers
announces them every heartbeat interval; any envelope proves its sender alive.  A node silent
for ``MISSED_BEATS`` intervals is gone, and the relay drops its peers.  Envelopes carry a
per-node number: a beat older than an envelope already applied (publishes may overtake each
other) must not bring back a peer that left since.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

#: Intervals a node may stay silent before its peers are dropped as gone.
MISSED_BEATS = 3
DEFAULT_HEARTBEAT_SECONDS = 10.0


@dataclass
class NodeLiveness:
    interval: float
    #: node -> monotonic time it was last heard; node -> newest envelope number heard.
    _heard_at: dict[str, float] = field(default_factory=dict)
    _newest: dict[str, int] = field(default_factory=dict)

    def heard(self, node: str, seq: int, *, beat: bool) -> bool:
        """Note ``node`` alive; False for a beat older than an envelope already heard."""
        self._heard_at[node] = time.monotonic()
        newest = self._newest.get(node, 0)
        self._newest[node] = max(newest, seq)
        return not (beat and seq < newest)

    def gone(self) -> list[str]:
        """The nodes silent too long (forgotten here: each is reported once)."""
        cutoff = time.monotonic() - MISSED_BEATS * self.interval
        silent = [node for node, at in self._heard_at.items() if at < cutoff]
        for node in silent:
            del self._heard_at[node]
            self._newest.pop(node, None)
        return silent
