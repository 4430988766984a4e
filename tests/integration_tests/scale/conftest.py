"""Fixtures for tests against the machine's Postgres and Redis (shared: every test namespaces
what it creates and removes it afterwards).

When a service is missing the tests skip, saying why; with ``CI=true`` they fail instead, since
CI machines run both services.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

PG_URL = os.environ.get("COSTROUTER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("COSTROUTER_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def missing(service: str, why: object) -> None:
    """Skips (or, on CI, fails) the test because ``service`` cannot be used."""
    msg = f"{service} is not reachable ({why}); these tests need it"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{msg} and CI=true requires it")
    pytest.skip(msg)


@pytest.fixture
def pg_url() -> str:
    """The test Postgres URL (checked reachable)."""
    import psycopg

    try:
        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        missing("Postgres", str(exc).splitlines()[0] if str(exc) else exc)
    return PG_URL


@pytest.fixture
def pg_table(pg_url: str) -> Iterator[str]:
    """A fresh table name, dropped after the test."""
    import psycopg
    from psycopg import sql

    name = f"cr_test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture
def redis_url() -> str:
    """The test Redis URL (checked reachable)."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        missing("Redis", exc)
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A random key prefix; every key under it is deleted after the test."""
    import redis

    prefix = f"crtest:{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
