"""The rate limiter, pause gate and adaptive throttle, driven by a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from tabnine_usage_async._limits import AdaptiveRate, Limits, PauseGate, RateLimiter


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


def _pass_evenly(throttle: AdaptiveRate, clock: FakeClock, rate: float, seconds: float) -> None:
    """Feed ``throttle`` attempts let through at ``rate`` per second for ``seconds``."""
    for _ in range(round(rate * seconds)):
        throttle.passed(clock.now)
        clock.now += 1 / rate


def _refuse(throttle: AdaptiveRate, sent: float, times: int = 3) -> list[bool]:
    """``times`` 429s for attempts sent at ``sent`` (three make a limit, not a hiccup)."""
    return [throttle.throttled(sent) for _ in range(times)]


def _mixed(throttle: AdaptiveRate, clock: FakeClock, passed: int, refused: int) -> list[bool]:
    """One second of ``passed`` and ``refused`` attempts, evenly interleaved; the pause answers."""
    total = passed + refused
    answers = []
    for i in range(total):
        if i * refused // total != (i + 1) * refused // total:
            answers.append(throttle.throttled(clock.now))
        else:
            throttle.passed(clock.now)
        clock.now += 1 / total
    return answers


def test_adaptive_rate_learns_the_rate_the_server_let_through() -> None:
    """The third 429 in a second sets the rate to margin x the rate let through, and pauses."""
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock)
    throttle = AdaptiveRate(limiter, None, clock=clock, margin=0.9)
    _pass_evenly(throttle, clock, 100.0, 3.0)
    assert throttle.throttled(clock.now) is True
    assert throttle.throttled(clock.now) is True
    assert throttle.learned is None  # two 429s may be a hiccup
    assert throttle.throttled(clock.now) is True
    assert throttle.learned == pytest.approx(90.0, rel=0.03)
    assert limiter.rate == pytest.approx(90.0, rel=0.03)


def test_adaptive_rate_ignores_late_429s_of_the_same_burst() -> None:
    """429s for attempts sent before the decrease change nothing and pause nobody again."""
    clock = FakeClock()
    throttle = AdaptiveRate(RateLimiter(None, clock=clock), None, clock=clock, margin=0.9)
    _pass_evenly(throttle, clock, 100.0, 2.0)
    sent_before = clock.now - 0.01
    assert _refuse(throttle, clock.now) == [True, True, True]
    assert all(throttle.throttled(sent_before) is False for _ in range(50))
    assert throttle.learned == pytest.approx(90.0, rel=0.03)


def test_adaptive_rate_ignores_sporadic_429s() -> None:
    """While throttled, a few 429s (no more than refused_share) neither lower it nor pause."""
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock)
    throttle = AdaptiveRate(limiter, None, clock=clock, margin=0.9, increase=0.0)
    _pass_evenly(throttle, clock, 100.0, 2.0)
    _refuse(throttle, clock.now)
    for _ in range(5):
        assert _mixed(throttle, clock, passed=88, refused=2) == [False, False]
    assert throttle.learned == pytest.approx(90.0, rel=0.03)
    assert limiter.rate == pytest.approx(90.0, rel=0.03)


def test_adaptive_rate_follows_a_limit_below_its_rate_without_pausing() -> None:
    """Many 429s while throttled lower the rate to margin x the rate let through; no pause."""
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock)
    throttle = AdaptiveRate(limiter, None, clock=clock, margin=0.9, increase=0.0)
    _pass_evenly(throttle, clock, 100.0, 2.0)
    _refuse(throttle, clock.now)
    answers = [a for _ in range(3) for a in _mixed(throttle, clock, passed=40, refused=40)]
    assert not any(answers)
    assert throttle.learned == pytest.approx(36.0, rel=0.05)


def test_adaptive_rate_grows_additively_then_forgets() -> None:
    """Without decreases the learned rate rises by `increase` per second and is dropped at 2x."""
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock)
    throttle = AdaptiveRate(limiter, None, clock=clock, margin=1.0, increase=0.1)
    _pass_evenly(throttle, clock, 100.0, 1.0)
    _refuse(throttle, clock.now)
    clock.now += 5.0
    throttle.tick()
    assert throttle.learned == pytest.approx(150.0, rel=0.03)
    assert limiter.rate == pytest.approx(150.0, rel=0.03)
    clock.now += 5.0
    throttle.tick()
    assert throttle.learned is None and limiter.rate is None


def test_adaptive_rate_respects_and_returns_to_the_configured_limit() -> None:
    """A learned rate never exceeds rate_limit, and growing back to it restores rate_limit."""
    clock = FakeClock()
    limiter = RateLimiter(80.0, clock=clock)
    throttle = AdaptiveRate(limiter, 80.0, clock=clock, margin=1.0, increase=0.5)
    _pass_evenly(throttle, clock, 200.0, 1.0)
    _refuse(throttle, clock.now)
    assert throttle.learned == pytest.approx(80.0)
    _mixed(throttle, clock, passed=40, refused=40)
    assert throttle.learned == pytest.approx(40.0, rel=0.05)
    clock.now += 3.0
    throttle.tick()
    assert throttle.learned is None and limiter.rate == pytest.approx(80.0)


def test_adaptive_rate_pauses_when_nothing_was_let_through() -> None:
    """With no attempt let through in the last window there is nothing to learn: pause everyone."""
    clock = FakeClock()
    limiter = RateLimiter(None, clock=clock)
    throttle = AdaptiveRate(limiter, None, clock=clock)
    assert throttle.throttled(clock.now) is True
    assert throttle.learned is None and limiter.rate is None


def test_adaptive_rate_forgets_old_attempts() -> None:
    """Only the last two windows of attempts are kept, whatever the traffic."""
    clock = FakeClock()
    throttle = AdaptiveRate(RateLimiter(None, clock=clock), None, clock=clock)
    _pass_evenly(throttle, clock, 100.0, 30.0)
    assert len(throttle._passed) <= 201


async def test_limits_without_adaptive_throttle_always_pause() -> None:
    """With adaptive=False every 429 pauses every request and the rate never changes."""
    limits = Limits(4, None, adaptive=False)
    async with limits.slot() as sent:
        limits.passed(sent)
    assert limits.throttled(sent) is True
    assert limits.rate.rate is None


async def test_limits_slot_yields_the_send_time_on_the_limits_clock() -> None:
    """The send time a slot yields is read from the clock the throttle measures with."""
    clock = FakeClock()
    limits = Limits(1, None, clock=clock)
    async with limits.slot() as sent:
        assert sent == clock.now
