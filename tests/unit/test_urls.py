"""``redact_url``: URLs shown in messages and logs without their secrets."""

from __future__ import annotations

import pytest

from nunchi.urls import redact_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("sqlite:///data/bus.db", "sqlite:///data/bus.db"),
        ("memory://", "memory://"),
        ("kafka://user:pw@host:9092", "kafka://***@host:9092"),
        ("https://KEY:se/cr#et@host/blobs", "https://***@host/blobs"),
        ("kafka://user:pa=ss@host:9092?x=1", "kafka://***@host:9092?x=1"),
        ("kafka://user:p?w@host:9092?client.id=a", "kafka://***@host:9092?client.id=a"),
        ("user:pw@host", "***@host"),
        (
            "kafka://host?sasl.username=me@x&x.token=t",
            "kafka://host?sasl.username=me@x&x.token=***",
        ),
        (
            "s3://bucket/p?endpoint=http://KEY:SECRET@127.0.0.1:9000&region=r",
            "s3://bucket/p?endpoint=http://***@127.0.0.1:9000&region=r",
        ),
        ("kafka://host?flag&sasl.password=", "kafka://host?flag&sasl.password=***"),
    ],
)
def test_redact_url_masks_user_info_and_secret_parameters(url: str, shown: str) -> None:
    assert redact_url(url) == shown
