"""The backoff schedule and ``Retry-After`` parsing (pure logic: Hypothesis + examples)."""

from __future__ import annotations

import random
import statistics
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentwatch.config import Config
from agentwatch.telemetry.retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after

NOW = datetime(2026, 11, 25, 20, 15, tzinfo=timezone.utc)

policies = st.builds(
    RetryPolicy,
    initial_backoff=st.floats(0.001, 10),
    multiplier=st.floats(1, 4),
    max_backoff=st.floats(0.001, 120),
    randomization_factor=st.floats(0, 0.99),
)
attempts = st.integers(0, 2000)
instants = st.floats(0, 1e6)
budgets = st.floats(0, 1000)
retry_afters = st.none() | st.floats(0, 1e4)
seeds = st.integers(0, 2**32)


@given(policies, attempts, instants, budgets, retry_afters, seeds)
def test_delay_is_never_negative_nor_past_the_deadline(
    policy: RetryPolicy,
    attempt: int,
    now: float,
    budget: float,
    retry_after: float | None,
    seed: int,
) -> None:
    delay = policy.next_delay(
        attempt, now=now, deadline=now + budget, retry_after=retry_after, rng=random.Random(seed)
    )
    if delay is not None:
        assert delay >= 0
        assert now + delay <= now + budget


@given(policies, attempts, st.floats(0, 1e4), seeds)
def test_retry_after_is_a_floor_even_above_the_cap(
    policy: RetryPolicy, attempt: int, retry_after: float, seed: int
) -> None:
    delay = policy.next_delay(
        attempt, now=0.0, deadline=1e9, retry_after=retry_after, rng=random.Random(seed)
    )
    assert delay is not None
    assert delay >= retry_after
    assert delay <= max(retry_after, policy.max_backoff)


@given(policies, attempts, seeds)
def test_delay_stays_within_the_jitter_band_and_the_cap(
    policy: RetryPolicy, attempt: int, seed: int
) -> None:
    delay = policy.next_delay(
        attempt, now=0.0, deadline=1e9, retry_after=None, rng=random.Random(seed)
    )
    nominal = policy.nominal_backoff(attempt)
    spread = nominal * policy.randomization_factor
    assert delay is not None
    assert delay <= policy.max_backoff
    assert nominal - spread - 1e-9 <= delay <= nominal + spread + 1e-9


@given(policies, attempts, st.floats(0, 1e4), seeds)
def test_a_retry_after_beyond_the_deadline_gives_up(
    policy: RetryPolicy, attempt: int, budget: float, seed: int
) -> None:
    delay = policy.next_delay(
        attempt, now=5.0, deadline=5.0 + budget, retry_after=budget + 0.5, rng=random.Random(seed)
    )
    assert delay is None


def test_schedule_without_jitter_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(randomization_factor=0, max_backoff=30)
    delays = [
        policy.next_delay(n, now=0, deadline=1e9, retry_after=None, rng=random.Random(0))
        for n in range(9)
    ]
    assert delays == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]


def test_huge_attempt_numbers_do_not_overflow() -> None:
    policy = RetryPolicy()
    assert policy.nominal_backoff(10**6) == policy.max_backoff


def test_jitter_spreads_waits_over_the_whole_band() -> None:
    # 50 clients that failed together must not come back together (reliability.md §8 test 5).
    policy = RetryPolicy()
    rng = random.Random(1234)
    delays = [
        policy.next_delay(2, now=0, deadline=1e9, retry_after=None, rng=rng) for _ in range(500)
    ]
    values = [d for d in delays if d is not None]
    assert min(values) < 1.2
    assert max(values) > 2.8
    assert statistics.pstdev(values) > 0.4  # uniform over [1, 3] has sd ≈ 0.58
    assert len({round(v, 3) for v in values}) > 400


def test_deadline_already_passed_gives_up() -> None:
    policy = RetryPolicy()
    assert policy.next_delay(0, now=10, deadline=9, retry_after=None, rng=random.Random()) is None


def test_policy_follows_the_configured_cap() -> None:
    policy = RetryPolicy.from_config(Config(max_backoff=7.0))
    assert policy.max_backoff == 7.0
    assert policy.retryable_statuses == RETRYABLE_STATUSES == {429, 502, 503, 504}
    assert policy.is_retryable(503)
    assert not policy.is_retryable(500)


@pytest.mark.parametrize(
    "kwargs",
    [{"initial_backoff": 0}, {"max_backoff": -1}, {"multiplier": 0.5}, {"randomization_factor": 1}],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# -- Retry-After -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3", 3.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-1", None),
        ("soon", None),
        ("", None),
        ("nan", None),
        ("inf", None),
        (None, None),
        ("Wed, 25 Nov 2026 20:15:03 GMT", 3.0),
        ("Wed, 25 Nov 2026 20:14:00 GMT", 0.0),
        ("Wed, 25 Nov 2026 21:15:03 +0100", 3.0),
        ("Wed, 25 Nov 2026 20:15:10 -0000", 10.0),
        ("Wed, 32 Nov 2026 20:15:10 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@given(st.integers(0, 10**7))
def test_retry_after_seconds_round_trip(seconds: int) -> None:
    assert parse_retry_after(str(seconds), now=NOW) == seconds


@given(st.integers(-(10**6), 10**6))
def test_retry_after_http_date_is_relative_to_now(offset: int) -> None:
    header = format_datetime(NOW + timedelta(seconds=offset), usegmt=True)
    assert parse_retry_after(header, now=NOW) == max(offset, 0)


@given(st.text())
def test_retry_after_never_raises_and_is_never_negative(value: str) -> None:
    parsed = parse_retry_after(value, now=NOW)
    assert parsed is None or parsed >= 0
