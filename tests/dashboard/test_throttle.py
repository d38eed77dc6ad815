"""The login throttle's schedule, on a clock the test moves."""

from __future__ import annotations

from agentwatch.server.dashboard import throttle
from agentwatch.server.dashboard.throttle import FIRST_LOCKOUT, FREE_FAILURES, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_past_the_free_ones_lock_out_exponentially() -> None:
    clock = Clock()
    gate = LoginThrottle(clock)
    assert [gate.begin("a") for _ in range(FREE_FAILURES)] == [None] * FREE_FAILURES
    assert gate.begin("a") == FIRST_LOCKOUT  # the fifth failure locked it out
    assert gate.begin("b") is None  # per client
    clock.now += FIRST_LOCKOUT - 0.5
    assert gate.begin("a") == 1
    clock.now += 0.5
    assert gate.begin("a") is None  # one more try, which doubles the lockout
    assert gate.begin("a") == 2 * FIRST_LOCKOUT
    for _ in range(20):  # never longer than an hour
        clock.now += throttle.LONGEST_LOCKOUT
        assert gate.begin("a") is None
    assert gate.begin("a") == throttle.LONGEST_LOCKOUT


def test_success_and_quiet_hours_start_over_and_memory_is_bounded() -> None:
    clock = Clock()
    gate = LoginThrottle(clock)
    for _ in range(FREE_FAILURES):
        gate.begin("a")
    clock.now += FIRST_LOCKOUT
    assert gate.begin("a") is None
    gate.succeeded("a")
    assert [gate.begin("a") for _ in range(FREE_FAILURES)] == [None] * FREE_FAILURES
    clock.now += FIRST_LOCKOUT + throttle.FORGET_AFTER + 1
    assert [gate.begin("a") for _ in range(FREE_FAILURES)] == [None] * FREE_FAILURES
    for n in range(throttle.MAX_CLIENTS + 10):
        gate.begin(f"client-{n}")
    assert len(gate._clients) == throttle.MAX_CLIENTS
