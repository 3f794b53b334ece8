"""Background work yields to Slack's acknowledgements (bot.tasks.Background.answering)."""

from __future__ import annotations

import asyncio

import pytest

from bot.tasks import Background

pytestmark = pytest.mark.anyio


async def _note(started: list[str], name: str) -> str:
    started.append(name)
    return name


async def test_a_task_spawned_while_answering_starts_when_the_answers_are_done() -> None:
    background = Background(yield_seconds=5.0)
    started: list[str] = []
    with background.answering():
        task = background.spawn(_note(started, "send"))
        await asyncio.sleep(0.05)
        assert started == []  # the answer is still being given
    assert await asyncio.wait_for(task, 1.0) == "send"
    assert started == ["send"]


async def test_overlapping_answers_hold_the_work_until_the_last_one() -> None:
    background = Background(yield_seconds=5.0)
    started: list[str] = []
    with background.answering():
        with background.answering():
            task = background.spawn(_note(started, "send"))
        await asyncio.sleep(0.05)
        assert started == []
    await asyncio.wait_for(task, 1.0)
    assert started == ["send"]


async def test_a_steady_stream_of_answers_does_not_starve_the_work() -> None:
    background = Background(yield_seconds=0.05)
    started: list[str] = []
    with background.answering():
        task = background.spawn(_note(started, "send"))
        await asyncio.wait_for(task, 1.0)  # started after at most yield_seconds, answers still going
    assert started == ["send"]


async def test_outside_any_answer_work_starts_at_once_and_drain_waits_for_it() -> None:
    background = Background(yield_seconds=5.0)
    started: list[str] = []
    background.spawn(_note(started, "send"))
    await asyncio.sleep(0)
    assert started == ["send"]
    assert await background.drain(1.0)
    assert background.in_flight == 0


async def test_work_cancelled_before_it_starts_never_runs(recwarn: pytest.WarningsRecorder) -> None:
    background = Background(yield_seconds=5.0)
    started: list[str] = []
    with background.answering():
        task = background.spawn(_note(started, "send"))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert started == []
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


async def test_work_waits_for_a_quiet_spell_after_the_answers_not_just_their_end() -> None:
    background = Background(yield_seconds=5.0, quiet_seconds=0.1)
    started: list[str] = []
    with background.answering():
        task = background.spawn(_note(started, "send"))
    await asyncio.sleep(0.05)
    with background.answering():  # the next request of the burst arrives within the quiet spell
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert started == []  # 0.05 s since the last answer: not quiet for long enough yet
    await asyncio.wait_for(task, 1.0)
    assert started == ["send"]


async def test_the_garbage_collector_waits_for_a_burst_of_answers_then_runs_again() -> None:
    import gc

    assert gc.isenabled()
    background = Background(yield_seconds=5.0, quiet_seconds=0.01)
    with background.answering():
        assert not gc.isenabled()  # its pauses would land on every answer waiting
    with background.answering():  # the burst goes on
        assert not gc.isenabled()
    await asyncio.sleep(0.05)
    assert gc.isenabled()


async def test_a_steady_stream_of_answers_still_has_its_garbage_collected() -> None:
    import gc

    background = Background(quiet_seconds=0.01, gc_pause_seconds=0.05)
    with background.answering():
        await asyncio.sleep(0.1)
        assert gc.isenabled()  # back after gc_pause_seconds, answers still going
        with background.answering():
            assert gc.isenabled()  # the same burst: not paused again
    await asyncio.sleep(0.05)
    assert gc.isenabled()


async def test_a_collector_turned_off_elsewhere_stays_off() -> None:
    import gc

    background = Background(quiet_seconds=0.01, gc_pause_seconds=0.02)
    gc.disable()
    try:
        with background.answering():
            pass
        await asyncio.sleep(0.05)
        assert not gc.isenabled()  # start-up turns it on itself (bot.serve.started)
    finally:
        gc.enable()


def test_serving_freezes_start_up_and_collects_cycles_less_often() -> None:
    """After start-up the collector is on, blind to what start-up built, and looks for cycles only every
    GC_YOUNG_THRESHOLD allocations: the bot makes almost none, and each look walks every live send (#18)."""
    import gc

    from bot.serve import GC_YOUNG_THRESHOLD, started

    before = gc.get_threshold()
    gc.disable()
    try:
        started()
        assert gc.isenabled()
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
        gc.enable()
