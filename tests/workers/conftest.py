"""The webhook receiver of the outbox tests, for the jobs' tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.outbox.conftest import Receiver, _serve_receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _serve_receiver()
