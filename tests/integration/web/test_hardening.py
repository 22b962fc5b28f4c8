"""Regression tests of the outside probe's findings (issue 7), each through the real app on
SQLite and PostgreSQL: strings that cannot be stored, Host names, keyless mode, CSRF, deep and
odd JSON, what read keys see, bounded text analysis, off-site links, file modes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from nunchi.assembly import Platform
from nunchi.bus.base import Record
from nunchi.bus.memory import MemoryBus
from nunchi.config import Settings
from nunchi.errors import InvalidInput
from nunchi.jobs.kinds import JobContext, JobKind, KindRegistry, echo_kind
from nunchi.jobs.models import Batch, Job
from nunchi.jobs.service import JobService
from nunchi.jobs.stages import job_stages
from nunchi.runtime.deadletter import DeadLetter
from nunchi.runtime.failures import dead_letter_for
from nunchi.runtime.stage import Delivery, RetryPolicy, StageContext
from nunchi.store.store import Store, open_store
from nunchi.web.app import create_app
from nunchi.web.keys import KeyService
from tests.fixtures.platforms import platform_around
from tests.integration.jobs.conftest import drain

ECHO = "diagnostic.echo"
HTML = {"Accept": "text/html"}


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"data_dir": tmp_path / "data", "bus_url": "memory://"}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    s = open_store(settings_for(tmp_path, database_url=db_url))
    yield s
    s.close()


@pytest.fixture
def platform(store: Store, tmp_path: Path) -> Platform:
    """The store's platform: the echo kind (one attempt), a memory bus."""
    registry = KindRegistry([echo_kind(retry=RetryPolicy(max_attempts=1))])
    jobs = JobService(store.sessions, MemoryBus(), registry, settings_for(tmp_path))
    return platform_around(jobs)


@pytest.fixture
def keys(store: Store) -> KeyService:
    return KeyService(store.sessions)


def client_for(platform: Platform, tmp_path: Path, **overrides: Any) -> TestClient:
    app = create_app(settings_for(tmp_path, **overrides), platform=platform)
    return TestClient(app, raise_server_exceptions=False, base_url="http://localhost")


@pytest.fixture
def api(platform: Platform, tmp_path: Path) -> Iterator[TestClient]:
    """The app with API keys on (the default)."""
    with client_for(platform, tmp_path) as c:
        yield c


@pytest.fixture
def admin(keys: KeyService) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.create('admin', ['admin'])[1]}"}


@pytest.fixture
def reader(keys: KeyService) -> dict[str, str]:
    return {"Authorization": f"Bearer {keys.create('reader', ['read'])[1]}"}


def stored(store: Store) -> tuple[int, int]:
    """(jobs, batches) in the database."""
    with store.sessions() as s:
        return s.scalar(select(func.count()).select_from(Job)) or 0, s.scalar(
            select(func.count()).select_from(Batch)
        ) or 0


def post_raw(c: TestClient, path: str, body: bytes, headers: dict[str, str]) -> Any:
    return c.post(path, content=body, headers={**headers, "content-type": "application/json"})


# -- 1, 5, 9: what JSON is refused, before anything is stored ----------------------------------

REFUSED_INPUTS = {
    "lone high surrogate": b'"\\ud800"',
    "lone low surrogate": b'"a\\udc00b"',
    "NUL": b'"a\\u0000b"',
    "NaN": b"NaN",
    "Infinity": b"-Infinity",
    "1e400": b"1e400",
    "huge integer": b"1" + b"0" * 30,
    "nested 300 deep": b"[" * 300 + b"]" * 300,
    "nested 1000 deep": b"[" * 1000 + b"]" * 1000,
    "duplicate keys": b'{"a": 1, "a": 2}',
    "surrogate in a key": b'{"\\udfff": 1}',
}


@pytest.mark.parametrize("payload", REFUSED_INPUTS.values(), ids=REFUSED_INPUTS.keys())
def test_unstorable_json_is_refused_with_422_and_nothing_is_stored(
    api: TestClient, admin: dict[str, str], store: Store, payload: bytes
) -> None:
    job = b'{"kind": "diagnostic.echo", "input": {"payload": ' + payload + b"}}"
    batch = b'{"kind": "diagnostic.echo", "items": [{}, {"payload": ' + payload + b"}]}"
    for path, body in (("/api/v1/jobs", job), ("/api/v1/batches", batch)):
        r = post_raw(api, path, body, admin)
        assert r.status_code == 422, (path, r.text)
        assert r.json()["error"]["code"] == "invalid_input"
    assert stored(store) == (0, 0)
    assert api.get("/api/v1/jobs", headers=admin).json()["items"] == []


def test_a_surrogate_pair_is_one_character_and_is_kept(
    api: TestClient, admin: dict[str, str]
) -> None:
    body = b'{"kind": "diagnostic.echo", "input": {"payload": "\\ud83d\\ude00 \\u0001"}}'
    r = post_raw(api, "/api/v1/jobs", body, admin)
    assert r.status_code == 202, r.text
    assert api.get(f"/api/v1/jobs/{r.json()['id']}", headers=admin).json()["input"]["payload"] == (
        "\U0001f600 \x01"
    )


def test_nesting_up_to_the_limit_is_accepted(api: TestClient, admin: dict[str, str]) -> None:
    deep = b"[" * 60 + b"]" * 60  # 60 levels inside input.payload: 63 in the body
    body = b'{"kind": "diagnostic.echo", "input": {"payload": ' + deep + b"}}"
    r = post_raw(api, "/api/v1/jobs", body, admin)
    assert r.status_code == 202, r.text
    assert api.get(f"/api/v1/jobs/{r.json()['id']}", headers=admin).status_code == 200


@pytest.mark.parametrize(
    "fields", ['{"delay_ms": "100"}', '{"delay_ms": true}', '{"delay_ms": 1.5}']
)
def test_input_is_validated_strictly(api: TestClient, admin: dict[str, str], fields: str) -> None:
    body = f'{{"kind": "diagnostic.echo", "input": {fields}}}'.encode()
    r = post_raw(api, "/api/v1/jobs", body, admin)
    assert r.status_code == 422 and "delay_ms" in r.json()["error"]["message"], r.text


def test_analyze_text_refuses_unstorable_text(api: TestClient, admin: dict[str, str]) -> None:
    r = post_raw(api, "/api/v1/text/analyze", b'{"texts": ["ok", "\\ud800"]}', admin)
    assert r.status_code == 422 and "texts[1]" in r.json()["error"]["message"], r.text


def test_not_json_is_still_a_400(api: TestClient, admin: dict[str, str]) -> None:
    r = post_raw(api, "/api/v1/jobs", b'{"kind": ', admin)
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"


def test_submitting_from_python_applies_the_same_rules(platform: Platform) -> None:
    """The CLI and other callers of the service (not only the HTTP body) are held to them."""
    jobs = platform.jobs
    for bad in ("\ud800", float("nan"), json.loads("[" * 80 + "]" * 80)):
        with pytest.raises(InvalidInput):
            jobs.submit(ECHO, {"payload": bad})
    with pytest.raises(InvalidInput):
        jobs.submit_batch(ECHO, [{"payload": "ok"}, {"payload": "\x00"}])


# -- 6: read keys do not see callback URLs or tracebacks -------------------------------------

SECRET = "https://hooks.example.com/h/SECRET-TOKEN?sig=SECRET-SIG"


def test_read_keys_see_where_a_callback_points_but_not_its_token(
    api: TestClient, admin: dict[str, str], reader: dict[str, str], platform: Platform
) -> None:
    jobs = platform.jobs
    assert jobs is not None
    job = jobs.submit(ECHO, {}, callback_url=SECRET)
    batch = jobs.submit_batch(ECHO, [{}], callback_url=SECRET)
    reads = (
        f"/api/v1/jobs/{job.id}",
        "/api/v1/jobs",
        f"/api/v1/batches/{batch.id}",
    )
    for path in reads:
        shown = api.get(path, headers=reader)
        assert shown.status_code == 200 and "SECRET" not in shown.text, path
        assert "https://hooks.example.com/" in shown.text, path
        assert "SECRET-TOKEN" in api.get(path, headers=admin).text, path


def test_read_keys_do_not_see_tracebacks(
    api: TestClient,
    admin: dict[str, str],
    reader: dict[str, str],
    platform: Platform,
    store: Store,
) -> None:
    jobs = platform.jobs
    assert jobs is not None
    job = jobs.submit(ECHO, {})
    error = {"type": "RuntimeError", "message": "boom", "traceback": "File /srv/secret/path.py"}
    with store.sessions.begin() as s:
        row = s.get(Job, job.id)
        assert row is not None
        row.status, row.error = "failed", error
    as_reader = api.get(f"/api/v1/jobs/{job.id}", headers=reader).json()
    assert as_reader["error"]["message"] == "boom" and as_reader["error"]["traceback"] is None
    as_admin = api.get(f"/api/v1/jobs/{job.id}", headers=admin).json()
    assert "/srv/secret" in as_admin["error"]["traceback"]


def test_job_pages_follow_the_same_rule_where_they_need_a_login(
    platform: Platform, keys: KeyService, tmp_path: Path
) -> None:
    from tests.unit.web.support import log_in

    jobs = platform.jobs
    job = jobs.submit(ECHO, {}, callback_url=SECRET)
    with client_for(platform, tmp_path, host="0.0.0.0") as c:  # pages need a login
        assert log_in(c, keys.create("r", ["read"])[1]).status_code == 303
        page = c.get(f"/jobs/{job.id}", headers=HTML)
        assert page.status_code == 200 and "SECRET" not in page.text
        assert "https://hooks.example.com/" in page.text
        assert log_in(c, keys.create("a", ["admin"])[1]).status_code == 303
        assert "SECRET-TOKEN" in c.get(f"/jobs/{job.id}", headers=HTML).text


# -- extra: callback URLs are checked in full at submit -------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com:99999/h",
        "http://example.com/a b",
        "http://example.com/a\r\nX-Injected: 1",
        "http://127.0.0.1:8080/h",
        "http://localhost/h",
        "http://[::1]/h",
        "http://10.1.2.3/h",
        "https://user:pw@example.com/h",
        "ftp://example.com/h",
    ],
)
def test_bad_callback_urls_are_refused_at_submit(
    api: TestClient, admin: dict[str, str], store: Store, url: str
) -> None:
    r = api.post(
        "/api/v1/jobs", json={"kind": ECHO, "input": {}, "callback_url": url}, headers=admin
    )
    assert r.status_code == 422 and "callback_url" in r.json()["error"]["message"], r.text
    assert stored(store) == (0, 0)


def test_loopback_callbacks_are_accepted_when_allowed(
    store: Store, tmp_path: Path
) -> None:
    allowing = settings_for(tmp_path, outbound_allow_hosts=["127.0.0.1/32"])
    jobs = JobService(store.sessions, MemoryBus(), KindRegistry([echo_kind()]), allowing)
    assert jobs.submit(ECHO, {}, callback_url="http://127.0.0.1:8080/h").callback_url


# -- 1: what a job produces is stored readable too ---------------------------------------------


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _bad_result(ctx: JobContext, data: _Input) -> dict[str, Any]:
    return {"text": "broken \udc80 text"}


def _bad_error(ctx: JobContext, data: _Input) -> dict[str, Any]:
    raise RuntimeError("failed on '\ud800' and a NUL \x00 in the input")


def test_unstorable_results_and_error_messages_leave_every_job_readable(
    store: Store, tmp_path: Path
) -> None:
    once = RetryPolicy(max_attempts=1)
    registry = KindRegistry(
        [
            JobKind("test.bad_result", _Input, _bad_result, retry=once),
            JobKind("test.bad_error", _Input, _bad_error, retry=once),
        ]
    )
    bus = MemoryBus()
    jobs = JobService(store.sessions, bus, registry, settings_for(tmp_path))
    ids = {name: jobs.submit(name, {}, callback_url=SECRET).id for name in registry.names()}
    for stage in job_stages(jobs):
        records = drain(bus, stage.topic)
        assert stage.handle_batch is not None
        outcomes = stage.handle_batch([Delivery(r) for r in records], StageContext(stage.name, bus))
        assert all(o is not None for o in outcomes)  # both fail, for good
        dead = dead_letter_for(stage.name, records[0], outcomes[0] or RuntimeError(), 1)
        assert DeadLetter.from_record(  # the dead letter's headers encode
            Record(stage.topic, 0, 0, dead.value, dead.key, dead.headers())
        ).error_message
    with client_for(platform_around(jobs), tmp_path, auth_disabled=True) as c:
        for name, job_id in ids.items():
            got = c.get(f"/api/v1/jobs/{job_id}")
            assert got.status_code == 200, got.text
            assert got.json()["status"] == "failed", name
            assert c.get(f"/jobs/{job_id}", headers=HTML).status_code == 200
        assert c.get("/api/v1/jobs").status_code == 200
    failed = jobs.get(ids["test.bad_error"]).error
    assert failed is not None and "\ufffd" in failed.message and "\x00" not in failed.message


# -- the property: whatever JSON a client sends, never a 5xx, a 4xx stores nothing, and every
# -- stored job stays readable through the API and the pages ---------------------------------

_ODD_STRINGS = st.sampled_from(["\ud800", "\udfff", "a\x00b", "\U0001f600", "<b>x</b>", "\u202e"])
_TEXT = st.lists(st.one_of(st.characters(), _ODD_STRINGS), max_size=6).map("".join)
_NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(json.dumps),
    st.sampled_from(["1e400", "-1e999", "0.0", "-0", "1E2", "123456789012345678901"]),
)


def _object(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"


_VALUES: st.SearchStrategy[str] = st.recursive(
    st.one_of(st.sampled_from(["null", "true", "false"]), _NUMBERS, _TEXT.map(json.dumps)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(
            st.tuples(st.sampled_from(["a", "b", "payload", "delay_ms"]) | _TEXT, inner),
            max_size=4,
        ).map(_object),  # keys may repeat
    ),
    max_leaves=12,
)
_DEEP = st.tuples(st.integers(min_value=0, max_value=1200), _VALUES).map(
    lambda d: "[" * d[0] + d[1] + "]" * d[0]
)
_INPUT = st.one_of(_VALUES, _DEEP, _VALUES.map(lambda v: _object([("payload", v)])))
_ECHO_INPUT = st.one_of(
    _INPUT,
    st.tuples(st.sampled_from(["payload", "delay_ms", "fail_attempts"]), _VALUES).map(
        lambda kv: _object([kv])
    ),
)


@st.composite
def _request(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(['"diagnostic.echo"', '"diagnostic.echo"', "7", '"x"']))
    shape = draw(st.sampled_from(["job", "batch", "text"]))
    if shape == "job":
        body = _object([("kind", kind), ("input", draw(_ECHO_INPUT))])
        return "/api/v1/jobs", body.encode("utf-8", "surrogatepass")
    if shape == "batch":
        items = draw(st.lists(_ECHO_INPUT, min_size=0, max_size=3))
        body = _object([("kind", kind), ("items", "[" + ",".join(items) + "]")])
        return "/api/v1/batches", body.encode("utf-8", "surrogatepass")
    texts = draw(st.lists(_TEXT.map(json.dumps) | _VALUES, max_size=3))
    return "/api/v1/text/analyze", _object([("texts", "[" + ",".join(texts) + "]")]).encode()


def test_no_json_body_breaks_the_api_or_the_store(
    api: TestClient, admin: dict[str, str], store: Store
) -> None:
    @given(request=_request())
    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(request: tuple[str, bytes]) -> None:
        path, body = request
        before = stored(store)
        r = post_raw(api, path, body, admin)
        assert r.status_code < 500, (path, body[:200], r.text)
        if r.status_code >= 400:
            assert stored(store) == before, (path, body[:200])
            assert r.json()["error"]["code"]
            return
        if path == "/api/v1/text/analyze":
            return
        ids = [r.json()["id"]] if path == "/api/v1/jobs" else [
            j["id"] for j in api.get(
                f"/api/v1/jobs?batch={r.json()['id']}", headers=admin
            ).json()["items"]
        ]  # fmt: skip
        for job_id in ids:
            assert api.get(f"/api/v1/jobs/{job_id}", headers=admin).status_code == 200
            page = api.get(f"/jobs/{job_id}", headers=HTML)
            assert page.status_code == 200, page.text
        assert api.get("/api/v1/jobs?limit=500", headers=admin).status_code == 200

    check()
