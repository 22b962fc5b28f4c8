"""Settings: one object, read once from the environment (prefix ``NUNCHI_``) and ``.env``."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from nunchi.errors import InvalidInput
from nunchi.paths import private_dir

__all__ = ["Settings", "get_settings", "settings_problem"]

_LIST_FIELDS = ("webhook_schedule", "outbound_allow_hosts", "allowed_hosts")
"""List settings, given in the environment as ``a,b,c`` or as a JSON list."""


class Settings(BaseSettings):
    """Every knob nunchi reads. Defaults give the embedded, single-process setup."""

    model_config = SettingsConfigDict(
        env_prefix="NUNCHI_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Path("./.nunchi")
    database_url: str = ""
    """SQLAlchemy URL. Empty means ``sqlite:///<data_dir>/nunchi.db``.
    PostgreSQL: ``postgresql+psycopg://user@host:5432/db``."""
    bus_url: str = ""
    """Event log. Empty means ``sqlite:///<data_dir>/bus.db``; ``memory://`` for tests;
    ``kafka://host:port[,host:port]`` for Kafka."""
    bus_retention_hours: float = Field(default=168.0, ge=0, allow_inf_nan=False)
    """Embedded event log only: delete records older than this that every consumer group
    still reading their topic has committed; a group with no live member stops holding records
    back this long after its last commit. ``0`` (or empty) keeps everything. Kafka: the
    broker's ``retention.ms`` decides."""
    blob_url: str = ""
    """Blob store. Empty means ``file://<data_dir>/blobs``; ``s3://BUCKET/PREFIX?endpoint=…``
    for S3 (the ``s3`` extra; credentials from the ``AWS_*`` environment)."""
    host: str = "127.0.0.1"
    port: int = 8000

    max_body_bytes: int = 10 * 1024 * 1024
    """Largest request body the API accepts."""
    max_batch_items: int = 100_000
    """Most items one ``POST /api/v1/batches`` may carry."""
    default_partitions: int = 4
    """Partitions for topics the platform creates."""

    webhook_secret: SecretStr = SecretStr("")
    """``whsec_``-prefixed secret for signing webhooks; generated into the data dir if empty."""
    webhook_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [0.0, 5.0, 300.0, 1800.0, 7200.0]
    )
    """Seconds to wait before each delivery attempt (first is immediate)."""
    webhook_timeout: float = 10.0
    outbound_allow_private: bool = False
    """Allow outbound fetches (webhooks, image URLs, captures) to private/loopback addresses."""
    outbound_allow_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Host names or CIDRs that are allowed even when private (e.g. ``127.0.0.1/32``)."""
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Host names the web app answers to besides IP addresses and loopback names (protection
    against DNS rebinding): e.g. ``nunchi.example.com``, ``*.example.com``; ``*`` answers any
    name (only behind a proxy that checks ``Host`` itself)."""

    auth_disabled: bool = False
    """Serve the API without API keys; refused unless ``host`` is a loopback address."""
    pages_login: Literal["auto", "always", "never"] = "auto"
    """Whether reading the pages (jobs, batches, webhooks, operations) needs a login with an
    API key while API keys are required: ``always``, ``never``, or ``auto`` = only when the
    server listens on an address other than loopback (``host``). Behind a reverse proxy on
    the same machine the server listens on loopback: set ``always`` there."""
    default_language: str = "ko"
    public_url: str = ""
    """The address users reach nunchi at (``https://nunchi.example.com``), for links in alert
    notices; empty: notices carry no link."""
    smtp_host: str = ""
    """Mail server for e-mail alerts (empty: e-mail alerts are refused when a rule is saved)."""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = True
    """Upgrade the connection with STARTTLS before logging in (port 587); ``false`` for a
    server on loopback that speaks plain SMTP."""
    smtp_from: str = "nunchi@localhost"

    stage_processes: Literal["auto", "on", "off"] = "auto"
    """Whether ``nunchi up`` runs the CPU-bound stages (chat scoring) in worker processes of
    their own: ``auto`` = on a machine with two or more cores."""
    chat_scorers: int | Literal["auto"] = "auto"
    """Extra processes that score chat (profanity, polarity, keywords) for each ``chat.score``
    stage: ``auto`` = ``0``, in the stage's thread (the stage has a process of its own under
    ``nunchi up`` on two or more cores, see ``stage_processes``; scale out with workers)."""
    chat_youtube_api_key: SecretStr = SecretStr("")
    """YouTube Data API v3 key: watches of YouTube use the official API when it is set."""
    chat_chzzk_access_token: SecretStr = SecretStr("")
    """A Chzzk Open API access token: watches of Chzzk use the official session when set."""
    chat_ingest_max_messages: int = Field(default=1000, ge=1, le=100_000)
    """Most messages one ingest request (HTTP batch or WebSocket frame) may carry."""

    live_max_seconds: float = Field(default=300.0, gt=0, allow_inf_nan=False)
    """Longest a live page's event stream stays open before the browser reconnects (and
    resumes where it was): keep it below the read timeout of a proxy in front of nunchi."""

    @field_validator(*_LIST_FIELDS, mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]

    @field_validator("bus_retention_hours", mode="before")
    @classmethod
    def _empty_keeps_everything(cls, value: object) -> object:
        return 0.0 if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        data = self.data_dir
        if not self.database_url:
            self.database_url = f"sqlite:///{(data / 'nunchi.db').as_posix()}"
        if not self.bus_url:
            self.bus_url = f"sqlite:///{(data / 'bus.db').as_posix()}"
        if not self.blob_url:
            self.blob_url = f"file://{(data / 'blobs').as_posix()}"
        return self

    def ensure_data_dir(self) -> Path:
        """Create the data directory if needed (private to this user) and return it."""
        return private_dir(self.data_dir)


def settings_problem(error: ValidationError | SettingsError) -> str:
    """One line saying which setting is wrong and what to write instead."""
    if isinstance(error, SettingsError):
        text = str(error)
        field = text.split('"')[1] if text.count('"') >= 2 else ""
        name = f"NUNCHI_{field.upper()}" if field else "a setting"
        hint = (
            "write a comma-separated list (a,b) or a JSON list" if field in _LIST_FIELDS else ""
        )
        return f"{name} cannot be read: {hint or text}"
    parts = []
    for err in error.errors()[:5]:
        loc = err.get("loc") or ()
        field = str(loc[0]) if loc else ""
        name = f"NUNCHI_{field.upper()}" if field else "settings"
        value: Any = err.get("input")
        shown = f" (got {str(value)[:60]!r})" if isinstance(value, str | int | float) else ""
        parts.append(f"{name}: {err.get('msg', 'invalid')}{shown}")
    return "bad setting: " + "; ".join(parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. :class:`InvalidInput` (one line naming the
    setting) when the environment or ``.env`` holds a bad value."""
    try:
        return Settings()
    except (ValidationError, SettingsError) as e:
        raise InvalidInput(settings_problem(e)) from None
