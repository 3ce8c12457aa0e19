"""The throwaway PostgreSQL server fixture really serves isolated databases."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests import postgres

pytestmark = pytest.mark.postgres


def test_server_is_the_installed_postgresql(postgres_url: str) -> None:
    major = postgres.server_version(postgres.find_bindir()).split(".")[0]
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("select version()")).scalar_one()
    finally:
        engine.dispose()
    assert version.startswith(f"PostgreSQL {major}."), version


def test_table_round_trip(pg_database_url: str) -> None:
    engine = sa.create_engine(pg_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("create table entry (id serial primary key, body bytea)"))
            conn.execute(sa.text("insert into entry (body) values (:b)"), [{"b": b"\x00\xff"}])
        with engine.connect() as conn:
            rows = conn.execute(sa.text("select id, body from entry")).all()
    finally:
        engine.dispose()
    assert [(r.id, bytes(r.body)) for r in rows] == [(1, b"\x00\xff")]


def test_each_test_database_is_isolated(postgres_url: str) -> None:
    first, second = postgres.create_database(postgres_url), postgres.create_database(postgres_url)
    assert make_url(first).database != make_url(second).database
    engines = [sa.create_engine(first), sa.create_engine(second)]
    try:
        with engines[0].begin() as conn:
            conn.execute(sa.text("create table only_in_first (x int)"))
        with engines[1].connect() as conn:
            tables = sa.inspect(conn).get_table_names()
        assert tables == []
    finally:
        for engine in engines:
            engine.dispose()
        postgres.drop_database(first)
        postgres.drop_database(second)


def test_pg_database_url_is_fresh(pg_database_url: str) -> None:
    engine = sa.create_engine(pg_database_url)
    try:
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
    finally:
        engine.dispose()
