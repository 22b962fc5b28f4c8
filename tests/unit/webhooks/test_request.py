"""The webhooks.deliver message format and the body every attempt sends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from nunchi.errors import PermanentError
from nunchi.webhooks import WebhookRequest, build_body, parse_request


def test_a_request_round_trips_through_its_message() -> None:
    request = WebhookRequest("evt_1", "job.succeeded", "https://example.com/h", {"텍스트": "좋아"})
    assert parse_request(request.to_json()) == request
    about = WebhookRequest("evt_2", "job.failed", "https://example.com/h", {}, subject_id="j1")
    assert parse_request(about.to_json()) == about


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (b"\xff", "not JSON"),
        (b'"x"', "JSON object"),
        (b'{"type": "t", "url": "u", "payload": {}}', "'event_id'"),
        (b'{"event_id": "e", "type": 3, "url": "u", "payload": {}}', "'type'"),
        (b'{"event_id": "e", "type": "t", "url": "   ", "payload": {}}', "'url'"),
        (b'{"event_id": "e", "type": "t", "url": "u", "payload": null}', "'payload'"),
        (b'{"event_id": "e", "type": "t", "url": "u", "payload": {}, "subject_id": 7}', "subject"),
    ],
)
def test_bad_messages_fail_permanently_saying_what_is_wrong(value: bytes, problem: str) -> None:
    with pytest.raises(PermanentError, match=problem):
        parse_request(value)


def test_an_overlong_event_id_is_refused() -> None:
    value = json.dumps({"event_id": "e" * 201, "type": "t", "url": "u", "payload": {}})
    with pytest.raises(PermanentError, match="at most 200"):
        parse_request(value.encode())


def test_the_body_follows_the_standard_shape_and_is_stable() -> None:
    created = datetime(2025, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)
    body = build_body("job.failed", created, {"job_id": "j", "오류": "시간 초과"})
    assert json.loads(body) == {
        "type": "job.failed",
        "timestamp": "2025-03-01T12:30:05.123456Z",
        "data": {"job_id": "j", "오류": "시간 초과"},
    }
    assert "시간 초과".encode() in body  # UTF-8, not \\u escapes
    kst = created.astimezone(timezone(timedelta(hours=9)))
    assert build_body("job.failed", created, {"job_id": "j", "오류": "시간 초과"}) == body
    assert json.loads(build_body("job.failed", kst, {}))["timestamp"] == (
        "2025-03-01T12:30:05.123456Z"
    )
