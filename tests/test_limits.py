"""The rate limiter and pause gate, driven by a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from tabnine_usage_async._limits import Limits, PauseGate, RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_spaces_slots_evenly() -> None:
    """Back-to-back reservations are 1/rate apart, so a one-second window holds at most rate."""
    clock = FakeClock()
    limiter = RateLimiter(4.0, clock=clock)
    waits = [limiter.reserve() for _ in range(9)]
    assert waits == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0])
    starts = [clock.now + w for w in waits]
    for first in starts:
        assert sum(1 for s in starts if first <= s < first + 1.0) <= 4


def test_rate_limiter_does_not_bank_idle_time() -> None:
    """After an idle spell the limiter does not allow a burst above the rate."""
    clock = FakeClock()
    limiter = RateLimiter(2.0, clock=clock)
    limiter.reserve()
    clock.now += 60
    assert [limiter.reserve() for _ in range(3)] == pytest.approx([0.0, 0.5, 1.0])


def test_rate_limiter_unlimited_and_changeable() -> None:
    """None means no waiting; set_rate changes the spacing for later reservations."""
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock)
    assert [limiter.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.rate is None
    limiter.set_rate(10.0)
    assert limiter.rate == pytest.approx(10.0)
    assert [limiter.reserve() for _ in range(2)] == pytest.approx([0.0, 0.1])


def test_pause_gate_keeps_the_longest_pause() -> None:
    """A shorter pause never cuts an earlier, longer one short."""
    clock = FakeClock()
    gate = PauseGate(clock=clock)
    assert gate.remaining() == 0.0
    gate.pause(5.0)
    gate.pause(1.0)
    assert gate.remaining() == pytest.approx(5.0)
    clock.now += 5.0
    assert gate.remaining() == 0.0


async def test_pause_gate_waits_out_an_extended_pause() -> None:
    """A waiter released only after a pause that was extended while it slept."""
    gate = PauseGate()
    gate.pause(0.05)
    waiter = asyncio.create_task(gate.wait())
    await asyncio.sleep(0.02)
    gate.pause(0.1)
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await asyncio.wait_for(waiter, 1.0)


async def test_limits_track_in_flight() -> None:
    """Limits count requests holding a slot and the peak, and never exceed the concurrency."""
    limits = Limits(2, None)

    async def hold() -> None:
        async with limits.slot():
            await asyncio.sleep(0.01)

    await asyncio.gather(*(hold() for _ in range(6)))
    assert limits.max_in_flight == 2 and limits.in_flight == 0
