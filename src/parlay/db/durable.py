"""PostgreSQL: event-writing transactions commit without waiting for the disk, and nothing
is acknowledged, or shown to anyone, before it is on disk.

Event ids become visible in commit order because every event-writing transaction holds one
advisory lock from its event insert to its commit (``parlay.services.events``).  A commit with
``synchronous_commit = on`` writes its WAL to disk (an fsync) *before* it releases its locks,
so the lock was held across one fsync per transaction: event writers could not share a flush,
and the whole cluster's event rate was capped at one fsync each (measured on the 2-core
reference machine, two app nodes: the lock holder was in ``WALSync`` in 73% of samples, with
~6 writers queued behind it).

So an event-writing transaction sets ``synchronous_commit = off`` for itself (``ASYNC_COMMIT``,
in the statement that takes the lock): its commit becomes visible, in order, and releases the
lock as soon as its commit record is in the WAL buffers.  Durability is then waited for *after*
the lock is gone, by ``FLUSH_SQL``: a statement whose own (synchronous) commit writes WAL, so
it returns only once the WAL up to its own commit record, hence up to every commit before it,
is on disk.  Concurrent flushes share fsyncs (PostgreSQL's group commit).  It runs on the
connection that committed, so a server that crashed in between cannot answer it: the caller
gets an error, never a false acknowledgement.

- **Writers** answer only after the flush: a post or booking acknowledged is on disk, as
  before.  A failed flush is an unknown outcome (503 ``try_again``), as a lost commit is.
- **Readers** that hand event ids to clients (the hub, a replay, a history page's live
  cursor) flush after reading and before answering: a commit they saw is then on disk.
  Otherwise a crash could lose an event a client already holds the id of; the sequence,
  restored from disk, would give that id again, and the client resuming after it would skip
  the new event.

A server whose default is ``synchronous_commit = off`` keeps its choice: the flush then waits
for nothing, as every commit there.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func

#: In the statement that takes the event lock: this transaction's commit does not wait for
#: the disk (``set_config(..., is_local => true)``: this transaction only).
ASYNC_COMMIT: ColumnElement[str] = func.set_config("synchronous_commit", "off", True)

#: Returns once every commit before it is on disk: a transactional logical message assigns
#: the statement's transaction an id and writes WAL, so its commit is a synchronous one
#: (a transaction that writes no WAL commits without flushing).  Logical decoding, if any
#: runs, sees a message with the prefix ``parlay`` and an empty body.
FLUSH_SQL = "SELECT pg_logical_emit_message(true, 'parlay', '')"
