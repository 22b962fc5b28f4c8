"""Prometheus metrics of the stage runtime, registered once in the default registry.

Every metric is labelled by ``stage`` (the stage name); consumer lag also by ``topic``.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "CONSUMER_LAG",
    "END_TO_END_SECONDS",
    "LATENCY_SECONDS",
    "STAGE_DEAD_LETTERED",
    "STAGE_FAILED",
    "STAGE_IN_FLIGHT",
    "STAGE_PROCESSED",
    "STAGE_RETRIED",
    "StageMetrics",
]

_LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
_END_TO_END_BUCKETS = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    600.0, 1800.0, 3600.0,
)  # fmt: skip

STAGE_PROCESSED = Counter(
    "nunchi_stage_processed", "Records a stage handled successfully.", ["stage"]
)
STAGE_FAILED = Counter(
    "nunchi_stage_failed", "Failed handler attempts (each retry that fails counts).", ["stage"]
)
STAGE_RETRIED = Counter("nunchi_stage_retried", "Attempts scheduled for retry.", ["stage"])
STAGE_DEAD_LETTERED = Counter(
    "nunchi_stage_dead_lettered", "Records published to the stage's dead-letter topic.", ["stage"]
)
LATENCY_SECONDS = Histogram(
    "nunchi_stage_latency_seconds",
    "Handler time per record and attempt.",
    ["stage"],
    buckets=_LATENCY_BUCKETS,
)
END_TO_END_SECONDS = Histogram(
    "nunchi_stage_end_to_end_seconds",
    "From the record's append to the log until the stage finished it (handled or dead-lettered).",
    ["stage"],
    buckets=_END_TO_END_BUCKETS,
)
STAGE_IN_FLIGHT = Gauge(
    "nunchi_stage_in_flight", "Records polled but not yet committed.", ["stage"]
)
CONSUMER_LAG = Gauge(
    "nunchi_consumer_lag",
    "Records in the topic not yet committed by the stage's consumer group.",
    ["stage", "topic"],
)


@dataclass(frozen=True)
class StageMetrics:
    """The metric children of one stage (label lookups done once)."""

    processed: Counter
    failed: Counter
    retried: Counter
    dead_lettered: Counter
    latency: Histogram
    end_to_end: Histogram
    in_flight: Gauge
    lag: Gauge

    @classmethod
    def for_stage(cls, stage: str, topic: str) -> StageMetrics:
        """The children labelled for ``stage`` consuming ``topic``."""
        return cls(
            processed=STAGE_PROCESSED.labels(stage=stage),
            failed=STAGE_FAILED.labels(stage=stage),
            retried=STAGE_RETRIED.labels(stage=stage),
            dead_lettered=STAGE_DEAD_LETTERED.labels(stage=stage),
            latency=LATENCY_SECONDS.labels(stage=stage),
            end_to_end=END_TO_END_SECONDS.labels(stage=stage),
            in_flight=STAGE_IN_FLIGHT.labels(stage=stage),
            lag=CONSUMER_LAG.labels(stage=stage, topic=topic),
        )
