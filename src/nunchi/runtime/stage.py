"""What a stage is: a handler subscribed to a topic in a consumer group, with a retry policy."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nunchi.bus.base import Bus, Record
from nunchi.errors import PermanentError

__all__ = ["Delivery", "RetryPolicy", "Stage", "StageContext"]


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, a cap, a per-stage maximum and errors never retried."""

    max_attempts: int = 5
    """Attempts in all, the first included; 1 means never retry."""
    base_delay: float = 0.5
    multiplier: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.5
    """Fraction of the delay drawn at random: delay * (1 - jitter + jitter * U[0, 1))."""
    never_retry: tuple[type[BaseException], ...] = (PermanentError,)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        try:
            raw = min(self.max_delay, self.base_delay * self.multiplier ** max(0, attempt - 1))
        except OverflowError:  # the exponent went far past the cap
            raw = self.max_delay
        u = (rng or random).random()
        return raw * (1.0 - self.jitter + self.jitter * u)

    def should_retry(self, error: BaseException, attempt: int) -> bool:
        """Whether to try again after ``error`` on attempt ``attempt``."""
        return attempt < self.max_attempts and not isinstance(error, self.never_retry)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One record handed to a handler, with how many times it has been tried (1-based).

    The attempt counts tries in this worker's life; a redelivery after a crash starts
    again at 1 (stages that need a persistent count keep it in the store, as jobs do)."""

    record: Record
    attempt: int = 1


@dataclass(frozen=True)
class StageContext:
    """What a handler may use besides its record."""

    stage: str
    bus: Bus


Handler = Callable[[Delivery, StageContext], None]
BatchHandler = Callable[[Sequence[Delivery], StageContext], Sequence[BaseException | None]]


@dataclass(frozen=True)
class Stage:
    """A handler subscribed to ``topic`` in consumer group ``group``.

    ``handle`` raises to fail an attempt; it must be idempotent (a redelivered record must
    not apply its effect twice). ``handle_batch``, when given, is used instead for whole
    polls and returns one outcome per delivery (None for success, the error otherwise),
    so a stage can write a poll's effects in one transaction.
    """

    name: str
    topic: str
    handle: Handler
    group: str = ""
    """Consumer group; defaults to ``nunchi.<name>``."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    concurrency: int = 1
    """Handler threads for this stage in one worker process."""
    max_in_flight: int = 1000
    """Records polled but not yet committed; polling pauses at this bound (backpressure)."""
    handle_batch: BatchHandler | None = None
    partitions: int = 0
    """Partitions to create the topic with; 0 means the settings' default."""
    own_process: bool = False
    """CPU-bound: ``nunchi up`` on two or more cores runs it in a worker process of its own
    (:mod:`nunchi.runtime.processes`), so it neither slows nor is slowed by the rest."""

    @property
    def consumer_group(self) -> str:
        """The consumer group this stage joins."""
        return self.group or f"nunchi.{self.name}"
