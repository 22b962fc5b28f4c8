"""Topics of the webhook notifier."""

from __future__ import annotations

__all__ = ["WEBHOOKS_DELIVER"]

WEBHOOKS_DELIVER = "webhooks.deliver"
"""A webhook to deliver (or re-deliver): a :class:`~nunchi.webhooks.WebhookRequest`."""
