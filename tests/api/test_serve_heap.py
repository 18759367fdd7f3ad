"""The app ``cauri serve`` runs freezes its startup heap once started (garbage collection under load then walks
only what requests leave behind) and collects its youngest generation less often; an app built for tests or
embedding leaves the process's collector alone."""

from __future__ import annotations

import gc

from sqlalchemy.ext.asyncio import AsyncEngine

from cauri import cli
from cauri.app import YOUNG_GENERATION_THRESHOLD, create_app
from cauri.settings import Settings


async def test_the_served_app_freezes_its_startup_heap_and_an_embedded_one_does_not(
    settings: Settings, engine: AsyncEngine
) -> None:
    gc.unfreeze()
    thresholds = gc.get_threshold()
    try:
        embedded = create_app(settings, engine)
        async with embedded.router.lifespan_context(embedded):
            assert gc.get_freeze_count() == 0
            assert gc.get_threshold() == thresholds
        served = create_app(settings, engine, freeze_heap=True)
        async with served.router.lifespan_context(served):
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold() == (YOUNG_GENERATION_THRESHOLD, *thresholds[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_cauri_serve_runs_the_freezing_factory() -> None:
    source = cli.serve.__code__.co_consts
    assert "cauri.app:serve_app" in source
