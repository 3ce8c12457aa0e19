"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import postgres


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a database on a throwaway PostgreSQL server, one per test session.

    Skips where no server binaries are installed; fails instead where
    ``PAUSEBUTTON_REQUIRE_POSTGRES=1`` (as in CI).
    """
    try:
        bindir = postgres.check_available()
    except postgres.PostgresUnavailableError as exc:
        postgres.unavailable(str(exc))
        raise  # unreachable: unavailable() skips or fails
    with postgres.throwaway_server(bindir) as server:
        yield postgres.create_database(server.url("postgres"), prefix="session")


@pytest.fixture
def pg_database_url(postgres_url: str) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, uniquely named database for this test alone."""
    url = postgres.create_database(postgres_url)
    yield url
    postgres.drop_database(url)
