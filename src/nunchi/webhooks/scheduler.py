"""The retry scheduler: makes the later attempts of pending deliveries when they fall due."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from nunchi.errors import InvalidInput
from nunchi.outbound import GuardedClient
from nunchi.store.types import utcnow
from nunchi.webhooks.delivery import WebhookDeliverer

if TYPE_CHECKING:
    from nunchi.config import Settings

__all__ = ["WebhookScheduler"]

log = logging.getLogger(__name__)


class WebhookScheduler:
    """Wakes when the next pending delivery is due and attempts every due delivery.

    Several schedulers (threads or processes, on one database) may run at once: each due
    delivery is claimed by exactly one of them. It re-checks the database at least every
    ``max_wait`` seconds, so deliveries added by other processes are seen promptly."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        client: GuardedClient,
        settings: Settings,
        *,
        concurrency: int = 4,
        max_wait: float = 1.0,
        secret: SecretStr | None = None,
    ) -> None:
        if concurrency < 1 or max_wait <= 0:
            raise InvalidInput("concurrency must be at least 1 and max_wait positive")
        self.deliverer = WebhookDeliverer(sessions, client, settings, secret=secret)
        self.concurrency = concurrency
        self.max_wait = max_wait

    def run_once(self) -> int:
        """Claim and attempt the deliveries due now (one batch); return how many."""
        claims = self.deliverer.claim_due(limit=self.concurrency * 4)
        if len(claims) <= 1 or self.concurrency == 1:
            self.deliverer.process(claims)
        else:
            with ThreadPoolExecutor(self.concurrency, "nunchi-webhooks") as pool:
                # Consume the iterator so an unexpected error surfaces here.
                list(pool.map(lambda c: self.deliverer.process([c]), claims))
        return len(claims)

    def seconds_to_next_due(self) -> float:
        """Seconds until the earliest pending delivery is due, capped at ``max_wait``."""
        due = self.deliverer.next_due()
        if due is None:
            return self.max_wait
        return min(self.max_wait, max(0.0, (due - utcnow()).total_seconds()))

    def run(self, stop: threading.Event) -> None:
        """Attempt deliveries as they fall due until ``stop`` is set."""
        log.info("webhook scheduler started")
        while not stop.is_set():
            try:
                if self.run_once():
                    continue  # there may be more due right now
                wait = self.seconds_to_next_due()
            except Exception:  # the database may be briefly away: keep the loop alive
                log.exception("webhook scheduler pass failed; retrying")
                wait = self.max_wait
            stop.wait(wait)
        log.info("webhook scheduler stopped")
