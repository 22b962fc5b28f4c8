"""Stage runtime: stages, retry policy, the worker that runs them."""

from nunchi.runtime.stage import Delivery, RetryPolicy, Stage, StageContext
from nunchi.runtime.worker import StageStats, Worker

__all__ = ["Delivery", "RetryPolicy", "Stage", "StageContext", "StageStats", "Worker"]
