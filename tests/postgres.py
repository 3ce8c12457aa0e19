"""A throwaway PostgreSQL server started from the installed binaries, for tests.

The server lives in a temporary directory, listens on a free loopback port with trust
authentication and fast, unsafe settings (fsync off), and is stopped and deleted when the
context exits, also on failure. As root (as in CI), every server command runs as the
``postgres`` user, since ``initdb`` refuses to run as root.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

REQUIRE_ENV = "PAUSEBUTTON_REQUIRE_POSTGRES"
SERVER_USER = "postgres"
_PROGRAMS = ("initdb", "pg_ctl", "postgres")
_GLOB = "/usr/lib/postgresql/*/bin"
_FAST_SETTINGS = """
# throwaway test server: durability off
fsync = off
synchronous_commit = off
full_page_writes = off
max_wal_senders = 0
wal_level = minimal
"""


class PostgresUnavailableError(Exception):
    """No usable PostgreSQL server binaries on this machine."""


class ServerCommandError(RuntimeError):
    """A server program (initdb, pg_ctl) failed; the message carries its output."""


@dataclass(frozen=True)
class PostgresServer:
    """A running server: where it listens and which binaries it came from."""

    bindir: Path
    port: int
    user: str = SERVER_USER
    host: str = "127.0.0.1"

    def url(self, database: str) -> str:
        """Return the SQLAlchemy URL of one database on this server."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"


def find_bindir() -> Path:
    """Return the directory holding initdb, pg_ctl and postgres, or raise with where we looked."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True
            ).stdout
            candidates.append(Path(out.strip()))
    candidates += sorted((Path(p) for p in glob.glob(_GLOB)), key=_version_key, reverse=True)
    initdb = shutil.which("initdb")
    if initdb is not None:
        candidates.append(Path(initdb).parent)
    for bindir in candidates:
        if all((bindir / program).is_file() for program in _PROGRAMS):
            return bindir
    looked = ["`pg_config --bindir`" if pg_config else "pg_config (not on PATH)", _GLOB, "PATH"]
    found = ", ".join(str(c) for c in candidates) or "none"
    raise PostgresUnavailableError(
        f"PostgreSQL server binaries not found: looked in {', '.join(looked)} "
        f"(candidates without initdb/pg_ctl/postgres: {found})"
    )


def unavailable(reason: str) -> None:
    """Skip the test, or fail it where ``PAUSEBUTTON_REQUIRE_POSTGRES=1`` (as in CI)."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1, so this is an error, not a skip)")
    pytest.skip(reason)


def server_version(bindir: Path) -> str:
    """Return the version of the server binaries, e.g. ``"15.8"``."""
    out = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"(\d+(?:\.\d+)*)", out)
    if match is None:
        raise RuntimeError(f"cannot read the version from {out!r}")
    return match.group(1)


def check_available() -> Path:
    """Return the server binaries' directory, or raise why no server can be started here."""
    bindir = find_bindir()
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError as exc:
            raise PostgresUnavailableError(
                f"running as root and there is no {SERVER_USER!r} user to run the server as"
            ) from exc
    return bindir


@contextlib.contextmanager
def throwaway_server(bindir: Path, attempts: int = 3) -> Iterator[PostgresServer]:
    """Start a fresh server, yield it, then stop it and delete its files, also on failure."""
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="pausebutton-pg-"))
    data = base / "data"
    started = False
    try:
        if as_root:
            owner = pwd.getpwnam(SERVER_USER)
            os.chown(base, owner.pw_uid, owner.pw_gid)
        runner = _Runner(bindir, base, as_root)
        runner.run(
            "initdb", "-D", str(data), "-A", "trust", "-U", SERVER_USER,
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(_FAST_SETTINGS)
        for attempt in range(attempts):
            port = _free_port()
            options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1"
            log = base / f"server-{attempt}.log"
            try:
                runner.run("pg_ctl", "start", "-w", "-t", "60", "-D", str(data), "-l", str(log),
                           "-o", options)  # fmt: skip
            except ServerCommandError as exc:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                if attempt == attempts - 1 or "already in use" not in tail:
                    raise ServerCommandError(f"{exc}\nserver log:\n{tail}") from exc
                continue  # another process took the port between probe and start
            started = True
            yield PostgresServer(bindir=bindir, port=port)
            break
    finally:
        if started:
            runner.run("pg_ctl", "stop", "-D", str(data), "-m", "immediate", "-w", check=False)
        shutil.rmtree(base, ignore_errors=True)


def create_database(server_url: str, prefix: str = "test") -> str:
    """Create a uniquely named database on the server of ``server_url``; return its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _admin_connection(server_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(database_url: str) -> None:
    """Drop the database of ``database_url``, closing any connections left open to it."""
    name = make_url(database_url).database
    if not name:
        raise ValueError(f"no database named in {database_url!r}")
    with _admin_connection(database_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def _admin_connection(any_url: str) -> psycopg.Connection[tuple[object, ...]]:
    url = make_url(any_url)
    return psycopg.connect(
        host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True
    )


class _Runner:
    """Runs one server program, as the ``postgres`` user where we are root."""

    def __init__(self, bindir: Path, cwd: Path, as_root: bool) -> None:
        self._bindir = bindir
        self._cwd = cwd
        self._prefix: Sequence[str] = ("runuser", "-u", SERVER_USER, "--") if as_root else ()

    def run(self, program: str, *args: str, check: bool = True) -> None:
        command = [*self._prefix, str(self._bindir / program), *args]
        result = subprocess.run(
            command, cwd=self._cwd, capture_output=True, text=True, check=False, timeout=120
        )
        if check and result.returncode != 0:
            raise ServerCommandError(
                f"{' '.join(command)} exited with {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", str(path)))
