"""Short write transactions on the embedded SQLite file, run on the event loop and committed in groups.

The engine reaches SQLite through aiosqlite, which hops to a thread and back for every statement, behind a
pool of one connection: initialize's five statements cost ten hops and every request queued behind the
others (~300 payments/s). A commit in WAL mode with ``synchronous=NORMAL`` appends to the log without an
fsync, so a transaction of a few INSERTs takes ~100 microseconds with the standard ``sqlite3`` module, less
than one hop; most of it is the COMMIT writing the touched pages to the log. So the transactions that arrive
during one turn of the event loop, and the next, are run together under one COMMIT (group commit): each caller
is answered after that COMMIT, so nothing is acknowledged before it is in the log.

The loop must never wait on the file lock, so its connection does not wait (busy timeout 0): when another
connection holds the write lock (the engine's own, a ``cauri worker``, the CLI), the group is retried after
a short pause, for up to ``wait_ms``. With ``synchronous=FULL`` each commit fsyncs, which the loop must not
wait for either: each group is then committed on a thread, while the next one gathers.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]

#: The loop's commits do not checkpoint (a checkpoint writes and fsyncs the database file); every this many
#: transactions a thread checkpoints instead (SQLite's own default is every 1,000 pages, ~200 payments).
CHECKPOINT_EVERY = 500
#: How long a checkpoint waits for the write lock and for readers of the old log.
CHECKPOINT_WAIT_MS = 200
SYNCHRONOUS_LEVELS = ("normal", "full")
#: The page size of a new database file (an existing one keeps its own). Every commit writes each page it
#: touched to the log whole, and a payment touches the last, part-filled page of a dozen B-trees (three tables,
#: their indexes): with SQLite's default 4,096 bytes a payment wrote ~22 KB to the log at peak, with 2,048
#: ~16 KB, and the checkpoints' fsyncs that flush it stalled fewer requests: at 2,000 payments a second, p99
#: 10-11 ms against 15-21 ms (bench/README.md). Rows still fit a page: an event's payment object is ~1.3 KB.
PAGE_SIZE = 2048
#: While another connection holds the write lock, a group is retried after these pauses (doubling).
FIRST_PAUSE = 0.0005
LONGEST_PAUSE = 0.01
#: At most this many transactions share a COMMIT, so one group never holds the loop for long.
GROUP_MAX = 64

_writers: weakref.WeakKeyDictionary[Engine, SQLiteWriter] = weakref.WeakKeyDictionary()


@dataclass
class _Group:
    loop: asyncio.AbstractEventLoop
    deadline: float
    pending: list[tuple[Work[Any], asyncio.Future[Any]]] = field(default_factory=list)
    pause: float = FIRST_PAUSE
    #: The retry a pause scheduled, while the group waits.
    retry: asyncio.TimerHandle | None = None


class SQLiteWriter:
    """Runs ``work(connection)`` in a transaction on the SQLite file at ``path``; ``work`` must not await.

    ``synchronous`` is ``normal`` (a commit survives a crash of the process, not a power loss) or ``full``
    (an fsync per commit: survives a power loss too; the groups are then committed on a thread).
    """

    def __init__(self, path: str, *, synchronous: str = "normal", wait_ms: int = 30_000) -> None:
        if synchronous not in SYNCHRONOUS_LEVELS:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS_LEVELS}, not {synchronous!r}")
        self.path = path
        self.synchronous = synchronous
        self.wait_ms = wait_ms
        self._on_loop: sqlite3.Connection | None = None
        self._loop_lock = threading.Lock()  # never waited on: a group that finds it taken pauses and retries
        self._group: _Group | None = None
        self._waiting: sqlite3.Connection | None = None
        self._waiting_lock = threading.Lock()
        self._commits = 0
        self._checkpointing = False
        self._restarting = False  # a checkpoint is starting the log over: the loop holds its writes back
        self._on_thread = False  # FULL: a group is being committed (and fsynced) on a thread

    async def transaction(self, work: Work[T]) -> T:
        loop = asyncio.get_running_loop()
        group = self._group
        if group is not None and group.loop is not loop:
            # Another event loop (thread) than the group's: one at a time on the waiting connection.
            return await asyncio.to_thread(self._run_waiting, work)
        if group is None:
            group = self._group = _Group(loop, loop.time() + self.wait_ms / 1000, pause=FIRST_PAUSE)
            if not self._on_thread:  # else the group is started when the thread's is done
                # Committed on the loop's turn after next, not the next: the requests read from the sockets in
                # between join it. On the next turn, 16 connections at peak split into groups of 15 and 1, one
                # after the other (a COMMIT, and a dozen pages written to the log, for one payment); now nearly
                # every group holds 16: +5.6 % payments a second, the tail at half peak unchanged (bench/README.md).
                loop.call_soon(loop.call_soon, self._commit_group)
        future: asyncio.Future[T] = loop.create_future()
        group.pending.append((work, future))
        return await future

    def _commit_group(self) -> None:
        group = self._group
        assert group is not None
        group.pending = [(work, future) for work, future in group.pending if not future.done()]  # not cancelled
        if self.synchronous == "full":
            # The fsync must not hold the loop: the group goes to a thread, and the requests arriving meanwhile
            # form the next group, so that one fsync still serves many payments.
            self._group, self._on_thread = None, True
            done = group.loop.run_in_executor(None, self._run_group_waiting, [work for work, _ in group.pending])
            done.add_done_callback(lambda result: self._thread_done(group, result))
            return
        batch, rest = group.pending[:GROUP_MAX], group.pending[GROUP_MAX:]
        outcomes: list[tuple[bool, Any]] | None = None
        busy: BaseException = sqlite3.OperationalError("database is locked")  # by this writer, on another thread
        if not self._restarting and self._loop_lock.acquire(blocking=False):
            try:
                if self._on_loop is None:
                    self._on_loop = self._connect(busy_ms=0, autocheckpoint=False)
                outcomes = _run_group(self._on_loop, [work for work, _ in batch])
            except _Busy as exc:
                busy = exc.__cause__ or exc
            except BaseException as exc:  # the COMMIT failed: none of the group is stored
                outcomes = [(False, exc)] * len(batch)
            finally:
                self._loop_lock.release()
        if outcomes is None:
            self._retry(group, busy)
            return
        self._group = None
        if rest:  # the group was too large: the rest commits on the next turn of the loop
            self._group = _Group(group.loop, group.deadline, rest)
            group.loop.call_soon(self._commit_group)
        _settle(batch, outcomes)
        self._commits += len(batch)
        if self._commits >= CHECKPOINT_EVERY and not self._checkpointing:
            self._commits = 0
            self._checkpointing = True
            group.loop.run_in_executor(None, self._checkpoint, group.loop)

    def _thread_done(self, group: _Group, result: asyncio.Future[list[tuple[bool, Any]]]) -> None:
        self._on_thread = False
        error = result.exception()
        _settle(group.pending, [(False, error)] * len(group.pending) if error else result.result())
        if self._group is not None:
            group.loop.call_soon(self._commit_group)

    def _retry(self, group: _Group, busy: BaseException) -> None:
        """Another connection is writing: pause and try again (requests arriving meanwhile join the group),
        until the deadline, when the API answers 503 with Retry-After, as when the engine's writes give up."""
        if group.loop.time() < group.deadline:
            group.retry = group.loop.call_later(group.pause, self._commit_group)
            group.pause = min(group.pause * 2, LONGEST_PAUSE)
            return
        self._group = None
        error = OperationalError("BEGIN IMMEDIATE", None, busy)
        for _, future in group.pending:
            if not future.done():
                future.set_exception(error)

    def close(self) -> None:
        with self._loop_lock, self._waiting_lock:
            for conn in (self._on_loop, self._waiting):
                if conn is not None:
                    conn.close()
            self._on_loop = self._waiting = None

    def _run_waiting(self, work: Work[T]) -> T:
        with self._waiting_lock:
            if self._waiting is None:
                self._waiting = self._connect(busy_ms=self.wait_ms, autocheckpoint=True)
            try:
                return _run(self._waiting, work)
            except _Busy as exc:
                raise OperationalError("BEGIN IMMEDIATE", None, exc.__cause__ or exc) from exc

    def _run_group_waiting(self, works: list[Work[Any]]) -> list[tuple[bool, Any]]:
        with self._waiting_lock:
            if self._waiting is None:
                self._waiting = self._connect(busy_ms=self.wait_ms, autocheckpoint=True)
            try:
                return _run_group(self._waiting, works)
            except _Busy as exc:
                raise OperationalError("BEGIN IMMEDIATE", None, exc.__cause__ or exc) from exc

    def _resume(self, loop: asyncio.AbstractEventLoop) -> None:
        """On the loop, when a checkpoint has started the log over: the group held back meanwhile is committed at
        once rather than after the rest of its pause (up to 4 ms more for the requests in it, the tail at
        half peak)."""
        group = self._group
        # Only the loop whose group it is may touch it (a group of another loop waits for its own retry).
        if group is not None and group.loop is loop and group.retry is not None and not self._restarting:
            group.retry.cancel()
            group.retry = None
            self._commit_group()

    def _checkpoint(self, loop: asyncio.AbstractEventLoop) -> None:
        try:
            conn = self._connect(busy_ms=CHECKPOINT_WAIT_MS, autocheckpoint=False)
            try:
                # The bulk of the copy (and the database file's fsync) beside the writers; then, with the loop's
                # writes held back for a moment, the few frames written meanwhile, so that the next commit starts
                # the log over. With PASSIVE alone, under steady writes the log never starts over: it grows
                # without bound, and every page read searches all of its index.
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                self._restarting = True
                try:
                    conn.execute("PRAGMA wal_checkpoint(RESTART)")
                finally:
                    self._restarting = False
                    with contextlib.suppress(RuntimeError):  # the loop has closed: nothing waits
                        loop.call_soon_threadsafe(self._resume, loop)
            finally:
                conn.close()
        except (sqlite3.Error, _Busy):
            pass  # a checkpoint is housekeeping: the next one, or any other connection's, does it
        finally:
            self._checkpointing = False

    def _connect(self, *, busy_ms: int, autocheckpoint: bool) -> sqlite3.Connection:
        # isolation_level=None: no implicit BEGIN, the transaction is ours. check_same_thread=False: the locks
        # above, not the thread, keep each connection to one user at a time.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=busy_ms / 1000)
        try:
            # Setting the journal mode reads the file's header: with busy_ms 0 (the loop's connection) another
            # connection's lock at that moment refuses it. That is the busy case of a BEGIN: wait and retry, as a
            # group does (it was a 500 for the first payment after a start, while a job wrote).
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # before the file's header is written
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous.upper()}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute(f"PRAGMA busy_timeout={busy_ms}")
            if not autocheckpoint:
                conn.execute("PRAGMA wal_autocheckpoint=0")
        except sqlite3.OperationalError as exc:
            conn.close()
            if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise _Busy from exc
            raise
        return conn


class _Busy(Exception):
    """Another connection holds the write lock."""


def _settle(batch: list[tuple[Work[Any], asyncio.Future[Any]]], outcomes: list[tuple[bool, Any]]) -> None:
    for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
        if future.done():
            continue  # its caller was cancelled
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _begin(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
            raise _Busy from exc
        raise


def _run(conn: sqlite3.Connection, work: Work[T]) -> T:
    _begin(conn)
    try:
        result = work(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def _run_group(conn: sqlite3.Connection, works: list[Work[Any]]) -> list[tuple[bool, Any]]:
    """Run ``works`` in one transaction and commit them all; each gets its result or its exception.

    A work that raises before writing anything (a replayed or refused idempotency key) fails alone. One that
    raises after writing would leave half its rows in the group, so the group is rolled back and each work is
    run again in a transaction of its own (works are plain functions of their inputs, safe to run again).
    """
    if len(works) == 1:
        return [_alone(conn, works[0])]
    _begin(conn)
    outcomes: list[tuple[bool, Any]] = []
    try:
        for work in works:
            before = conn.total_changes
            try:
                outcomes.append((True, work(conn)))
            except Exception as exc:
                if conn.total_changes != before:
                    conn.execute("ROLLBACK")
                    return [_alone(conn, work) for work in works]
                outcomes.append((False, exc))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _alone(conn: sqlite3.Connection, work: Work[Any]) -> tuple[bool, Any]:
    try:
        return True, _run(conn, work)
    except _Busy:
        raise
    except Exception as exc:
        return False, exc


def attach_writer(engine: AsyncEngine, writer: SQLiteWriter) -> None:
    """Make ``writer`` the one ``writer_of(engine)`` returns; it is closed when the engine's pool closes its
    connection, as disposing of the engine does (and opens again if the engine is used after).

    A pool event, not the engine's own ``engine_disposed``: any engine event makes every connection of the
    engine join the engine's event dispatch, a handful of objects in a reference cycle per connection (the
    background jobs' queries left ~90 a second for the collector under load) and a check per statement."""
    _writers[engine.sync_engine] = writer
    event.listen(engine.sync_engine, "close", lambda _dbapi, _record: writer.close())


def writer_of(engine: AsyncEngine) -> SQLiteWriter | None:
    return _writers.get(engine.sync_engine)
