"""Fixtures of the store unit tests: the stand-in S3 server of tests/fixtures/s3.py."""

from __future__ import annotations

from tests.fixtures.s3 import s3_bucket, s3_env, s3_server

__all__ = ["s3_bucket", "s3_env", "s3_server"]
