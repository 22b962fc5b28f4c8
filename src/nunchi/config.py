"""Settings: one object, read once from the environment (prefix ``NUNCHI_``) and ``.env``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


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
    webhook_schedule: list[float] = Field(default_factory=lambda: [0.0, 5.0, 300.0, 1800.0, 7200.0])
    """Seconds to wait before each delivery attempt (first is immediate)."""
    webhook_timeout: float = 10.0
    outbound_allow_private: bool = False
    """Allow outbound fetches (webhooks, image URLs, captures) to private/loopback addresses."""
    outbound_allow_hosts: list[str] = Field(default_factory=list)
    """Host names or CIDRs that are allowed even when private (e.g. ``127.0.0.1/32``)."""

    auth_disabled: bool = False
    """Serve the API without API keys (embedded default binds to loopback only)."""
    pages_login: Literal["auto", "always", "never"] = "auto"
    """Whether reading the pages (jobs, batches, webhooks, operations) needs a login with an
    API key while API keys are required: ``always``, ``never``, or ``auto`` = only when the
    server listens on an address other than loopback (``host``). Behind a reverse proxy on
    the same machine the server listens on loopback: set ``always`` there."""
    default_language: str = "ko"

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
        """Create the data directory if needed and return it."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
