"""deploy/: the settings and commands these files use exist, the systemd units verify, the
compose file is valid, and the Dockerfile copies only what is there (the image itself is not
built here: there is no container engine or registry)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from typer.testing import CliRunner

from nunchi.cli import build
from nunchi.config import Settings
from tests.fixtures.services import require_service

app = build()

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
COMPOSE = DEPLOY / "compose" / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
SETTINGS = {f"NUNCHI_{name.upper()}" for name in Settings.model_fields}


def _deploy_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file())


def _accepted(argv: list[str]) -> None:
    """``nunchi ARGV --help`` parses: the command and every option in ARGV exist."""
    assert argv[0].endswith("nunchi"), argv
    args = [re.sub(r"%[a-zA-Z]", "x", a) for a in argv[1:]]  # systemd specifiers
    result = CliRunner().invoke(app, [*args, "--help"])
    assert result.exit_code == 0, f"`{shlex.join(argv)}` is not a nunchi command:\n{result.output}"


def test_deploy_files_exist() -> None:
    names = {p.relative_to(DEPLOY).as_posix() for p in _deploy_files()}
    assert {"README.md", "Dockerfile", "nunchi.env.example", "compose/compose.yaml",
            "systemd/nunchi-api.service", "systemd/nunchi-worker@.service"} <= names


def test_every_setting_named_in_deploy_exists() -> None:
    named = {m for p in _deploy_files() for m in re.findall(r"\bNUNCHI_[A-Z_]+\b", p.read_text())}
    assert named, "expected deploy/ to name settings"
    assert named - SETTINGS == set(), "deploy/ names settings that do not exist"
    example = (DEPLOY / "nunchi.env.example").read_text()
    assigned = dict(
        line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#")
    )
    for name in ("NUNCHI_BUS_URL", "NUNCHI_DATABASE_URL", "NUNCHI_WEBHOOK_SECRET"):
        assert name in assigned, f"the scale-out example must set {name}"
    values = {k.removeprefix("NUNCHI_").lower(): v for k, v in assigned.items()
              if k.startswith("NUNCHI_")}
    Settings(_env_file=None, **values)  # type: ignore[call-arg]  # the example's values parse


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_unit_runs_a_real_command_and_stops_on_sigterm(unit: Path) -> None:
    text = unit.read_text()
    [exec_start] = re.findall(r"^ExecStart=(.+)$", text, flags=re.M)
    _accepted(shlex.split(exec_start))
    assert "KillSignal=SIGTERM" in text and "EnvironmentFile=/etc/nunchi/nunchi.env" in text
    assert re.search(r"^User=nunchi$", text, flags=re.M), "run as the nunchi user, not root"


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    require_service("systemd-analyze", analyze is not None, "apt-get install -y systemd")
    nunchi = str(Path(sys.executable).with_name("nunchi"))
    assert Path(nunchi).is_file(), "the nunchi command is not installed next to this Python"
    units = []
    for unit in UNITS:
        text = unit.read_text().replace("/opt/nunchi/.venv/bin/nunchi", nunchi)
        text = text.replace("EnvironmentFile=/etc/", "EnvironmentFile=-/etc/")
        name = unit.name.replace("@.service", "@jobs.diagnostic.echo.service")
        (tmp_path / name).write_text(text)
        units.append(str(tmp_path / name))
    result = subprocess.run([analyze, "verify", *units], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def test_compose_services_run_real_commands_with_real_settings() -> None:
    services = _compose()["services"]
    assert {"postgres", "kafka", "api", "worker"} <= set(services)
    for name in ("api", "worker"):
        service = services[name]
        _accepted(service["command"])
        env = service["environment"]
        assert set(env) <= SETTINGS, f"{name}: unknown settings {set(env) - SETTINGS}"
        # the addresses nunchi is given are the ones the other services offer
        advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
        assert env["NUNCHI_BUS_URL"].removeprefix("kafka://") in {
            listener.split("://", 1)[1] for listener in advertised.split(",")
        }
        database = urlsplit(env["NUNCHI_DATABASE_URL"])
        assert database.scheme == "postgresql+psycopg" and database.hostname == "postgres"
        postgres = services["postgres"]["environment"]
        assert (database.username, database.path) == (
            postgres["POSTGRES_USER"], "/" + postgres["POSTGRES_DB"])
        assert service["depends_on"]["kafka"]["condition"] == "service_healthy"
        assert "healthcheck" in services["kafka"] and "healthcheck" in services["postgres"]
    api = services["api"]["command"]
    assert "--no-workers" in api
    port = api[api.index("--port") + 1]
    assert services["api"]["ports"] == [f"127.0.0.1:{port}:{port}"], "publish on loopback only"


def test_dockerfile_copies_what_exists_and_runs_unprivileged() -> None:
    text = DOCKERFILE.read_text()
    sources = [src for line in re.findall(r"^COPY (.+)$", text, flags=re.M)
               for src in line.split()[:-1]]
    assert sources, "expected COPY lines"
    for src in sources:
        assert (ROOT / src).exists(), f"the Dockerfile copies {src}, which is not in the repo"
    assert re.search(r"^USER nunchi$", text, flags=re.M)
    [install] = re.findall(r"pip install -c constraints.txt '?\.\[?([a-z0-9,]*)\]?'?", text)
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    assert install and set(install.split(",")) <= set(extras), f"unknown extras: {install}"
    [cmd] = re.findall(r"^CMD (\[.+\])$", text, flags=re.M)
    _accepted(yaml.safe_load(cmd))
