"""Standard Webhooks signatures: the spec's test vector, round trips and every refusal."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from nunchi.config import Settings
from nunchi.errors import InvalidInput, Unauthorized
from nunchi.webhooks import generate_secret, load_secret, sign, signed_headers, verify
from nunchi.webhooks.signing import SECRET_FILE, secret_key

# The test vector published with the Standard Webhooks reference libraries.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = '{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _headers(sig: str = VECTOR_SIG, ts: int = VECTOR_TS) -> dict[str, str]:
    return {"webhook-id": VECTOR_ID, "webhook-timestamp": str(ts), "webhook-signature": sig}


def test_sign_reproduces_the_published_test_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIG
    assert sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY.encode()) == VECTOR_SIG
    # The prefix is optional, as in the reference libraries; SecretStr is accepted.
    assert sign(VECTOR_SECRET.removeprefix("whsec_"), VECTOR_ID, VECTOR_TS, VECTOR_BODY) == (
        VECTOR_SIG
    )
    assert sign(SecretStr(VECTOR_SECRET), VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIG


def test_verify_accepts_the_test_vector_within_tolerance() -> None:
    verify(VECTOR_SECRET, _headers(), VECTOR_BODY, now=VECTOR_TS + 299)
    verify(VECTOR_SECRET, _headers(), VECTOR_BODY.encode(), now=VECTOR_TS - 299)


def test_verify_finds_one_match_among_several_signatures() -> None:
    other = "v1," + base64.b64encode(b"x" * 32).decode()
    verify(VECTOR_SECRET, _headers(f"{other} v1a,zzz {VECTOR_SIG}"), VECTOR_BODY, now=VECTOR_TS)


def test_header_names_are_case_insensitive() -> None:
    headers = {k.upper(): v for k, v in _headers().items()}
    verify(VECTOR_SECRET, headers, VECTOR_BODY, now=VECTOR_TS)


@pytest.mark.parametrize(
    ("headers", "body", "now", "message"),
    [
        (_headers(), VECTOR_BODY + " ", VECTOR_TS, "no webhook signature matches"),
        (_headers("v1,AAAA"), VECTOR_BODY, VECTOR_TS, "no webhook signature matches"),
        (_headers(VECTOR_SIG.replace("v1,", "v2,")), VECTOR_BODY, VECTOR_TS, "no webhook sig"),
        (_headers(), VECTOR_BODY, VECTOR_TS + 301, "too old"),
        (_headers(), VECTOR_BODY, VECTOR_TS - 301, "in the future"),
        ({"webhook-id": VECTOR_ID}, VECTOR_BODY, VECTOR_TS, "missing webhook header"),
        ({**_headers(), "webhook-timestamp": "soon"}, VECTOR_BODY, VECTOR_TS, "not an integer"),
    ],
)
def test_verify_refuses(headers: dict[str, str], body: str, now: int, message: str) -> None:
    with pytest.raises(Unauthorized, match=message):
        verify(VECTOR_SECRET, headers, body, now=now)


def test_verify_refuses_another_secret() -> None:
    with pytest.raises(Unauthorized):
        verify(generate_secret(), _headers(), VECTOR_BODY, now=VECTOR_TS)


@given(msg_id=st.text(min_size=1, max_size=40), body=st.binary(max_size=512))
def test_signed_headers_round_trip(msg_id: str, body: bytes) -> None:
    secret = generate_secret()
    headers = signed_headers(secret, msg_id, body)
    verify(secret, headers, body)
    with pytest.raises(Unauthorized):
        verify(secret, headers, body + b"!")


def test_generated_secrets_are_prefixed_random_and_sized() -> None:
    a, b = generate_secret(), generate_secret()
    assert a != b
    assert a.startswith("whsec_")
    assert len(secret_key(a)) == 32
    with pytest.raises(InvalidInput):
        generate_secret(8)


def test_a_malformed_secret_is_refused_without_echoing_it() -> None:
    with pytest.raises(InvalidInput, match="not valid base64") as info:
        sign("whsec_not*base64!", "id", 1, b"")
    assert "not*base64" not in str(info.value)
    with pytest.raises(InvalidInput, match="empty"):
        secret_key("whsec_")


def test_load_secret_prefers_the_configured_secret(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, webhook_secret=SecretStr(VECTOR_SECRET))
    assert load_secret(settings).get_secret_value() == VECTOR_SECRET
    assert not (tmp_path / SECRET_FILE).exists()
    bad = Settings(data_dir=tmp_path, webhook_secret=SecretStr("whsec_???"))
    with pytest.raises(InvalidInput, match="NUNCHI_WEBHOOK_SECRET"):
        load_secret(bad)


def test_load_secret_generates_once_into_a_private_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = load_secret(settings)
    path = tmp_path / "data" / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == first.get_secret_value()
    assert secret_key(first)
    assert load_secret(Settings(data_dir=tmp_path / "data")) == first
    assert first.get_secret_value() not in repr(first)
    assert [p.name for p in path.parent.iterdir()] == [SECRET_FILE]  # no temp file left


def test_load_secret_tightens_a_world_readable_file(tmp_path: Path) -> None:
    path = tmp_path / SECRET_FILE
    path.write_text(VECTOR_SECRET + "\n")
    path.chmod(0o644)
    assert load_secret(Settings(data_dir=tmp_path)).get_secret_value() == VECTOR_SECRET
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_load_secret_refuses_a_corrupt_file(tmp_path: Path) -> None:
    (tmp_path / SECRET_FILE).write_text("garbage!!\n")
    with pytest.raises(InvalidInput, match="does not hold a valid webhook secret"):
        load_secret(Settings(data_dir=tmp_path))
