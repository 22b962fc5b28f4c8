"""Job kinds: what a job of each kind takes as input and how it runs.

A :class:`JobKind` pairs a name (used in topic names, e.g. ``jobs.diagnostic.echo.requested``)
with a pydantic input model, a ``run`` function and a retry policy. The kinds of a process live
in one :class:`KindRegistry`, filled by the composition root (:mod:`nunchi.assembly`) with the
built-in ``diagnostic.echo`` and the kinds of every app.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy.orm import Session, sessionmaker

from nunchi.bus.base import Bus
from nunchi.errors import InvalidInput
from nunchi.runtime.stage import RetryPolicy
from nunchi.store.blobs import BlobStore

if TYPE_CHECKING:
    from nunchi.config import Settings
    from nunchi.outbound import GuardedClient

__all__ = [
    "ECHO",
    "DiagnosticFailure",
    "EchoInput",
    "JobContext",
    "JobKind",
    "KindRegistry",
    "echo_kind",
]

InputT = TypeVar("InputT", bound=BaseModel)

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


@dataclass(frozen=True)
class JobContext:
    """What a running job may use besides its input: the core's parts."""

    job_id: str
    kind: str
    attempt: int
    """The job's attempt number (1-based), counted in the database across crashes and retries."""
    sessions: sessionmaker[Session]
    bus: Bus
    blobs: BlobStore | None
    client: GuardedClient
    """The SSRF-guarded client: the only way a job fetches a user-supplied URL."""
    settings: Settings
    batch_id: str | None = None


@dataclass(frozen=True)
class JobKind(Generic[InputT]):
    """A kind of job: its name, input model, the function that runs it and how to retry."""

    name: str
    input_model: type[InputT]
    run: Callable[[JobContext, InputT], dict[str, Any]]
    """Does the work; returns the JSON-serialisable result. Raises to fail the attempt
    (:class:`nunchi.errors.PermanentError` to fail the job without retrying)."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    concurrency: int = 1
    """Handler threads for this kind in one worker process."""
    description: str = ""
    example: Mapping[str, Any] = field(default_factory=dict)
    """A valid input, shown in the API docs and used by tests (``nunchi jobs submit``)."""

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(
                f"bad job kind name {self.name!r}: use dotted lowercase words, "
                "e.g. 'vision.identify'"
            )
        if not (isinstance(self.input_model, type) and issubclass(self.input_model, BaseModel)):
            raise TypeError(f"job kind {self.name!r}: input_model must be a pydantic model")
        if self.concurrency < 1:
            raise ValueError(f"job kind {self.name!r}: concurrency must be at least 1")

    def items_adapter(self) -> TypeAdapter[list[InputT]]:
        """A validator for a list of inputs (used to check a whole batch in one pass)."""
        return _items_adapter(self.input_model)


_ADAPTERS: dict[type[BaseModel], TypeAdapter[Any]] = {}
_ADAPTERS_LOCK = threading.Lock()


def _items_adapter(model: type[InputT]) -> TypeAdapter[list[InputT]]:
    with _ADAPTERS_LOCK:
        adapter = _ADAPTERS.get(model)
        if adapter is None:
            adapter = _ADAPTERS[model] = TypeAdapter(list[model])  # type: ignore[valid-type]
    return adapter


class KindRegistry:
    """The job kinds a process knows, by name. Thread-safe."""

    def __init__(self, kinds: list[JobKind[Any]] | None = None) -> None:
        self._kinds: dict[str, JobKind[Any]] = {}
        self._lock = threading.Lock()
        for kind in kinds or []:
            self.register(kind)

    def register(self, kind: JobKind[Any], *, replace: bool = False) -> JobKind[Any]:
        """Add ``kind``; a second kind with the same name is an error unless ``replace``."""
        with self._lock:
            if kind.name in self._kinds and not replace and self._kinds[kind.name] is not kind:
                raise ValueError(f"job kind {kind.name!r} is already registered")
            self._kinds[kind.name] = kind
        return kind

    def get(self, name: str) -> JobKind[Any]:
        """The kind called ``name``; :class:`InvalidInput` naming the known kinds if none."""
        with self._lock:
            kind = self._kinds.get(name)
            if kind is not None:
                return kind
            known = ", ".join(sorted(self._kinds)) or "(none)"
        raise InvalidInput(f"unknown job kind {name!r}; known kinds: {known}")

    def names(self) -> list[str]:
        """Registered kind names, sorted."""
        with self._lock:
            return sorted(self._kinds)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._kinds

    def copy(self) -> KindRegistry:
        """A new registry with the same kinds (to add test-only kinds without side effects)."""
        with self._lock:
            return KindRegistry(list(self._kinds.values()))


class EchoInput(BaseModel):
    """Input of ``diagnostic.echo``."""

    model_config = ConfigDict(extra="forbid")

    delay_ms: int = Field(
        default=0, ge=0, le=60_000, description="Milliseconds to wait before answering."
    )
    fail_attempts: int = Field(
        default=0, ge=0, le=100, description="Fail every attempt whose number is at most this."
    )
    payload: Any = Field(default=None, description="Anything JSON; returned as is.")


class DiagnosticFailure(RuntimeError):
    """The planned failure of a ``diagnostic.echo`` attempt."""


def _run_echo(ctx: JobContext, data: EchoInput) -> dict[str, Any]:
    if ctx.attempt <= data.fail_attempts:
        raise DiagnosticFailure(
            f"planned failure on attempt {ctx.attempt} (fail_attempts={data.fail_attempts})"
        )
    if data.delay_ms:
        time.sleep(data.delay_ms / 1000)  # the delay *is* the work of this diagnostic kind
    return {"echo": data.payload, "attempt": ctx.attempt}


def echo_kind(retry: RetryPolicy | None = None, concurrency: int = 1) -> JobKind[EchoInput]:
    """The ``diagnostic.echo`` kind (optionally with another retry policy, e.g. for tests)."""
    return JobKind(
        name="diagnostic.echo",
        input_model=EchoInput,
        run=_run_echo,
        retry=retry or RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=30.0),
        concurrency=concurrency,
        description="Returns its payload after delay_ms; fails the first fail_attempts attempts.",
        example={"payload": {"hello": "안녕"}},
    )


ECHO = echo_kind()
"""The built-in diagnostic kind: answers ``{"echo": payload, "attempt": n}``."""
