"""RetryPolicy: backoff grows, is capped, and its jitter stays within bounds."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from nunchi.errors import OutboundBlocked, PermanentError
from nunchi.runtime import RetryPolicy

policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 20),
    base_delay=st.floats(0.001, 10.0),
    multiplier=st.floats(1.0, 4.0),
    max_delay=st.floats(0.01, 600.0),
    jitter=st.floats(0.0, 1.0),
)


@given(policies, st.integers(1, 40), st.integers(0, 2**32))
def test_delay_is_within_the_jitter_band_of_the_capped_backoff(
    policy: RetryPolicy, attempt: int, seed: int
) -> None:
    raw = min(policy.max_delay, policy.base_delay * policy.multiplier ** (attempt - 1))
    delay = policy.delay(attempt, random.Random(seed))
    assert raw * (1 - policy.jitter) - 1e-9 <= delay <= raw + 1e-9
    assert delay <= policy.max_delay + 1e-9


@given(policies, st.integers(1, 40))
def test_backoff_without_jitter_grows_until_the_cap(policy: RetryPolicy, attempt: int) -> None:
    exact = RetryPolicy(
        base_delay=policy.base_delay,
        multiplier=policy.multiplier,
        max_delay=policy.max_delay,
        jitter=0.0,
    )
    now, later = exact.delay(attempt), exact.delay(attempt + 1)
    assert later >= now
    assert later <= exact.max_delay
    if exact.multiplier >= 1.1:
        assert exact.delay(200) == exact.max_delay


@given(st.integers(1, 10), st.integers(1, 12))
def test_should_retry_until_max_attempts_except_permanent_errors(
    max_attempts: int, attempt: int
) -> None:
    policy = RetryPolicy(max_attempts=max_attempts)
    assert policy.should_retry(ValueError("x"), attempt) == (attempt < max_attempts)
    assert not policy.should_retry(PermanentError("x"), attempt)
    assert not policy.should_retry(OutboundBlocked("x"), attempt)  # a PermanentError subclass
