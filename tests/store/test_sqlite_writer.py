"""The embedded store's writer: transactions committed in groups on the event loop, which never waits on the
file lock."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from cauri.settings import Settings
from cauri.store import sqlite_writer
from cauri.store.engine import create_engine
from cauri.store.sqlite_writer import PAGE_SIZE, SQLiteWriter, writer_of
from tests.conftest import DATABASES

pytestmark = pytest.mark.skipif("sqlite" not in DATABASES, reason="the embedded store only")


@pytest.fixture
def path(tmp_path: Path) -> Iterator[str]:
    file = str(tmp_path / "writer.db")
    with sqlite3.connect(file) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)")
    yield file


def note(body: str) -> Callable[[sqlite3.Connection], int]:
    def work(conn: sqlite3.Connection) -> int:
        return int(conn.execute("INSERT INTO notes (body) VALUES (?) RETURNING id", (body,)).fetchone()[0])

    return work


def bodies(path: str) -> list[str]:
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT body FROM notes ORDER BY id")]


def log_restarts(path: str) -> int:
    """The log's checkpoint sequence number (its header's 4th big-endian word): one more each time a writer
    starts the log over from its first frame."""
    with open(path + "-wal", "rb") as log:
        return int.from_bytes(log.read(16)[12:16], "big")


@pytest.mark.parametrize("synchronous", ["normal", "full"])
async def test_a_failing_transaction_in_a_group_is_undone_alone(path: str, synchronous: str) -> None:
    writer = SQLiteWriter(path, synchronous=synchronous)
    try:
        outcomes = await asyncio.gather(
            writer.transaction(note("a")),
            writer.transaction(note("b")),
            writer.transaction(note("a")),  # violates UNIQUE
            writer.transaction(note("c")),
            return_exceptions=True,
        )
    finally:
        writer.close()
    assert isinstance(outcomes[2], sqlite3.IntegrityError)
    assert [o for i, o in enumerate(outcomes) if i != 2] == [1, 2, 3]
    assert bodies(path) == ["a", "b", "c"]


async def test_a_transaction_begun_on_the_next_turn_of_the_loop_joins_the_group(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The requests read from the sockets on the turn after the first of a group arrived share its COMMIT: at
    peak, committing on that turn split the connections into a large group and a group of one."""
    sizes: list[int] = []
    run_group = sqlite_writer._run_group

    def counted(conn: sqlite3.Connection, works: list[Any]) -> list[tuple[bool, Any]]:
        sizes.append(len(works))
        return run_group(conn, works)

    monkeypatch.setattr(sqlite_writer, "_run_group", counted)

    async def a_turn_later(body: str) -> int:
        await asyncio.sleep(0)
        return await writer.transaction(note(body))

    writer = SQLiteWriter(path)
    try:
        assert list(await asyncio.gather(writer.transaction(note("a")), a_turn_later("b"))) == [1, 2]
    finally:
        writer.close()
    assert sizes == [2]
    assert bodies(path) == ["a", "b"]


@pytest.mark.parametrize("synchronous", ["normal", "full"])
async def test_a_transaction_that_fails_after_writing_leaves_no_row_and_spares_its_group(
    path: str, synchronous: str
) -> None:
    def half_done(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO notes (body) VALUES ('half')")
        raise ValueError("changed its mind")

    writer = SQLiteWriter(path, synchronous=synchronous)
    try:
        outcomes = await asyncio.gather(
            writer.transaction(note("a")),
            writer.transaction(half_done),
            writer.transaction(note("b")),
            return_exceptions=True,
        )
    finally:
        writer.close()
    assert isinstance(outcomes[1], ValueError)
    assert bodies(path) == ["a", "b"]


def commit_later(conn: sqlite3.Connection, seconds: float) -> asyncio.Event:
    """COMMIT ``conn`` in ``seconds``; the event is set once it has. Tests order by it, not by a clock: on a
    loaded host a wait measured against a 0.2 s timer read 0.185 s (CI)."""
    released = asyncio.Event()

    def commit() -> None:
        conn.execute("COMMIT")
        released.set()

    asyncio.get_running_loop().call_later(seconds, commit)
    return released


async def test_a_transaction_waits_for_another_writer_without_blocking_the_loop(path: str) -> None:
    writer = SQLiteWriter(path, wait_ms=5_000)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's write lock
    other.execute("INSERT INTO notes (body) VALUES ('other')")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    released = commit_later(other, 0.2)
    ticking = asyncio.create_task(ticker())
    try:
        assert await writer.transaction(note("mine")) == 2
        assert released.is_set(), "the transaction ended before the other writer let go of its lock"
    finally:
        ticking.cancel()
        writer.close()
        other.close()
    assert ticks > 20, "the loop ran other work while the transaction waited"
    assert bodies(path) == ["other", "mine"]


async def test_a_lock_held_while_the_writer_first_connects_is_waited_out(tmp_path: Path) -> None:
    """The writer's own connection is opened at its first transaction; if another connection holds the file's
    lock at that moment (here: a file not yet in WAL mode, locked exclusively), the transaction waits and
    retries like any busy group, rather than failing (it was a 500 for that payment)."""
    file = str(tmp_path / "fresh.db")
    other = sqlite3.connect(file, isolation_level=None)
    other.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)")
    other.execute("BEGIN EXCLUSIVE")
    writer = SQLiteWriter(file, wait_ms=5_000)
    released = commit_later(other, 0.2)
    try:
        assert await writer.transaction(note("first")) == 1
        assert released.is_set(), "the transaction ended before the exclusive lock was let go"
    finally:
        writer.close()
        other.close()
    assert bodies(file) == ["first"]


async def test_a_lock_held_too_long_gives_up_with_database_is_locked(path: str) -> None:
    writer = SQLiteWriter(path, wait_ms=100)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="database is locked"):  # the API's 503 with Retry-After
            await writer.transaction(note("late"))
    finally:
        other.execute("ROLLBACK")
        other.close()
    try:
        assert await writer.transaction(note("later")) == 1
    finally:
        writer.close()
    assert bodies(path) == ["later"]


@pytest.mark.parametrize("synchronous", ["normal", "full"])
async def test_both_durability_levels_commit(path: str, synchronous: str) -> None:
    writer = SQLiteWriter(path, synchronous=synchronous)
    try:
        await asyncio.gather(*(writer.transaction(note(str(n))) for n in range(5)))
    finally:
        writer.close()
    assert sorted(bodies(path)) == ["0", "1", "2", "3", "4"]


def test_an_unknown_durability_level_is_refused(path: str) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteWriter(path, synchronous="off")


async def test_the_log_starts_over_under_steady_writes(path: str) -> None:
    """Checkpoints must let the log start over while writes go on; otherwise it grows with every commit, and so
    does the cost of reading any page. (Its size is no measure: a checkpoint slowed by a busy disk lets it grow
    for as long as its fsync takes, and the file keeps its largest size.)"""
    writer = SQLiteWriter(path)
    start = None
    try:
        for n in range(5_000):  # 16 rows a group, flat out: a checkpoint every ~31 groups
            await asyncio.gather(*(writer.transaction(note(f"{n}-{i}-" + "x" * 200)) for i in range(16)))
            start = log_restarts(path) if start is None else start
            if log_restarts(path) - start > 2:
                break
    finally:
        writer.close()
    assert start is not None
    # Flat out, as a busy loop writes: with a pause between groups any checkpoint catches up and the log starts
    # over by itself; without one, only a checkpoint that holds the writes back for a moment lets it.
    restarts = log_restarts(path) - start
    assert restarts > 2, f"the log started over {restarts} times in {n + 1} groups"


def page_size(path: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA page_size").fetchone()[0])


async def test_a_new_database_gets_the_smaller_pages_and_an_existing_one_keeps_its_own(
    tmp_path: Path, path: str
) -> None:
    fresh = str(tmp_path / "fresh.db")
    for file in (fresh, path):
        writer = SQLiteWriter(file)
        try:
            await writer.transaction(lambda conn: conn.execute("CREATE TABLE IF NOT EXISTS t (x)"))
            await writer.transaction(lambda conn: conn.execute("INSERT INTO t VALUES (1)"))
        finally:
            writer.close()
    assert page_size(fresh) == PAGE_SIZE != 4096
    assert page_size(path) == 4096  # made with SQLite's default: still readable and written as it is


async def test_the_gateways_own_database_is_made_with_the_smaller_pages(tmp_path: Path) -> None:
    engine = create_engine(Settings(data_dir=tmp_path, database_url=""))
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE t (x)")
    finally:
        await engine.dispose()
    assert page_size(str(tmp_path / "cauri.db")) == PAGE_SIZE


async def test_writes_held_back_by_a_checkpoint_go_on_as_soon_as_it_ends(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cauri.store.sqlite_writer.FIRST_PAUSE", 30.0)  # a retry would come far too late
    writer = SQLiteWriter(path)
    try:
        await writer.transaction(note("before"))
        writer._restarting = True  # as while a checkpoint starts the log over
        held = asyncio.create_task(writer.transaction(note("held")))
        await asyncio.sleep(0.05)
        assert not held.done()
        await asyncio.to_thread(writer._checkpoint, asyncio.get_running_loop())  # ends by waking the loop
        assert await asyncio.wait_for(held, 2) > 0
    finally:
        writer.close()
    assert bodies(path) == ["before", "held"]


async def test_the_gateways_writer_closes_with_its_engine_and_adds_no_event_to_its_connections(
    tmp_path: Path,
) -> None:
    engine = create_engine(Settings(data_dir=tmp_path, database_url=""))
    writer = writer_of(engine)
    assert writer is not None
    async with engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE t (x)")
    await writer.transaction(lambda conn: conn.execute("INSERT INTO t VALUES (1)"))
    assert writer._on_loop is not None
    # No engine-level event: a connection does not join the engine's event dispatch.
    assert not engine.sync_engine._has_events
    await engine.dispose()
    assert writer._on_loop is None
    assert await writer.transaction(lambda conn: conn.execute("SELECT count(*) FROM t").fetchone()[0]) == 1
    writer.close()
