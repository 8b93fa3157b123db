"""A real PostgreSQL server for the tests: Debian's binaries, a throwaway data directory, no Docker.

`PostgresServer` runs `initdb` in a temporary directory and starts the server on 127.0.0.1 (a free
port) and on a Unix socket in that directory; `stop()` shuts it down at once and deletes
everything. Nothing is left behind when a test run crashes: `atexit` stops the server, and a small
watchdog process stops it even when the test process is killed outright.

As root (CI, these machines), `initdb` and `postgres` refuse to run, so the temporary directory
is handed to Debian's `postgres` system user and the binaries run through `runuser`.

In tests (tests/conftest.py: `pytest_plugins = ["tests.postgres"]`):

    async def test_store(postgres_url: str) -> None:
        engine = create_async_engine(postgres_url)  # a fresh, empty database for this test

Every role logs in without a password (trust), except those `require_password(role, password)`
made: they must give their password over TCP (scram-sha-256), as on a real server. The
`postgres_password_url` fixture is `postgres_url` logged in as such a role.

pytest-homeassistant-custom-component turns pytest-socket on for every test: creating a TCP
socket fails, and connecting a Unix socket fails too; only pytest-socket's `socket_enabled`
fixture lets a test connect (to 127.0.0.1 only). `postgres_url` asks for it; a test that uses
`postgres_server` directly must ask for `socket_enabled` itself. Starting the server and the
database helpers use subprocesses, which pytest-socket does not see.
"""

import atexit
from collections.abc import Iterator, Sequence
import itertools
import os
from pathlib import Path
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from types import TracebackType
from typing import Self
from urllib.parse import quote

import pytest

PG_ROOT = Path("/usr/lib/postgresql")
HOST = "127.0.0.1"
SUPERUSER = "postgres"
DEFAULT_DATABASE = "careon_test"
# The role `postgres_password_url` logs in as, and its password.
PASSWORD_ROLE = "careon_login"
PASSWORD = "s3cret-pw"

_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Taken at import, before pytest-socket (on during each test) can swap it for a guarded class:
# picking a free port must work whenever the session fixture happens to start.
_REAL_SOCKET = socket.socket
_DATABASE_NUMBERS = itertools.count(1)
_START_ATTEMPTS = 5
_TIMEOUT_S = 60

# Runs beside the test process from before `initdb` on. When that process is gone (its parent
# changes) without stop(), it stops the server, also one that was still starting, and deletes
# the directory. stop() ends the watchdog first on a normal shutdown.
_WATCHDOG = """
import os, shutil, subprocess, sys, time
parent, tmp, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
pid_file = os.path.join(tmp, "data", "postmaster.pid")
while os.getppid() == parent and os.path.isdir(tmp):
    time.sleep(0.5)
quiet_since, deadline = time.monotonic(), time.monotonic() + 120
while os.path.isdir(tmp) and time.monotonic() < deadline:
    if os.path.exists(pid_file):
        subprocess.run(stop, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False, timeout=60)
        quiet_since = time.monotonic()
    elif time.monotonic() - quiet_since > 3:
        break
    time.sleep(0.2)
shutil.rmtree(tmp, ignore_errors=True)
"""


class PostgresError(RuntimeError):
    """The PostgreSQL server could not be found, started or used."""


def find_bindir() -> Path:
    """Return the newest Debian PostgreSQL bin directory (override: $CAREON_PG_BINDIR)."""
    override = os.environ.get("CAREON_PG_BINDIR")
    if override:
        candidates = [Path(override)]
    else:
        candidates = sorted(
            (initdb.parent for initdb in PG_ROOT.glob("*/bin/initdb")),
            key=lambda bindir: _version_key(bindir.parent.name),
            reverse=True,
        )
    for bindir in candidates:
        if all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return bindir
    raise PostgresError(
        f"no PostgreSQL server binaries (initdb, pg_ctl, postgres) under {PG_ROOT}/*/bin; "
        "run scripts/setup, which installs Debian's postgresql package"
    )


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


def _free_port() -> int:
    with _REAL_SOCKET(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _check_database_name(name: str) -> None:
    if not _DATABASE_NAME.fullmatch(name):
        raise ValueError(
            f"database name {name!r}: use lowercase letters, digits and underscores "
            "(at most 63, not starting with a digit)"
        )


class PostgresServer:
    """A PostgreSQL server in a temporary directory, for one test session.

    Use `with PostgresServer() as server:`, or `start()` and `stop()`. Once started:
    `url` (SQLAlchemy + asyncpg over TCP), `dsn` (plain asyncpg), `url_for(name)`,
    `create_database(name)`, `drop_database(name)` and `psql(sql)`.
    """

    def __init__(self, database: str = DEFAULT_DATABASE, *, bindir: Path | None = None) -> None:
        _check_database_name(database)
        self.database = database
        self._bindir = bindir
        self._tmp: Path | None = None
        self._port: int | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._as_postgres = os.geteuid() == 0
        self._password_roles: set[str] = set()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        """Create the cluster, start the server, create `database`; return self."""
        if self._tmp is not None:
            raise PostgresError("the server is already started")
        bindir = self._bindir or find_bindir()
        self._bindir = bindir
        self._tmp = Path(tempfile.mkdtemp(prefix="careon-pg-"))
        atexit.register(self.stop)
        try:
            if self._as_postgres:
                self._hand_to_postgres_user(self._tmp)
            self._start_watchdog()
            self._run_server_binary(
                [
                    str(bindir / "initdb"),
                    f"--pgdata={self.data_dir}",
                    f"--username={SUPERUSER}",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                ]
            )
            self._start_server()
            self.create_database(self.database)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server at once (no checkpoint) and delete its directory. Idempotent."""
        tmp, self._tmp = self._tmp, None
        if tmp is None:
            return
        atexit.unregister(self.stop)
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            watchdog.kill()
            watchdog.wait()
        if (tmp / "data" / "postmaster.pid").exists():
            subprocess.run(
                self._stop_command(tmp),
                cwd=tmp,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                check=False,
                timeout=_TIMEOUT_S,
            )
        shutil.rmtree(tmp, ignore_errors=True)
        self._port = None
        self._password_roles.clear()

    def __enter__(self) -> Self:
        return self if self._tmp is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ where it is

    @property
    def started(self) -> bool:
        """Whether the server is running (started and not yet stopped)."""
        return self._port is not None

    @property
    def tmp_dir(self) -> Path:
        """The temporary directory: data/, the server log and the Unix socket."""
        if self._tmp is None:
            raise PostgresError("the server is not started")
        return self._tmp

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.tmp_dir / "data"

    @property
    def socket_dir(self) -> Path:
        """The directory holding the server's Unix socket (.s.PGSQL.<port>)."""
        return self.tmp_dir

    @property
    def log_file(self) -> Path:
        """The server's log."""
        return self.tmp_dir / "server.log"

    @property
    def port(self) -> int:
        """The TCP port on 127.0.0.1 (also the Unix socket's number)."""
        if self._port is None:
            raise PostgresError("the server is not started")
        return self._port

    @property
    def url(self) -> str:
        """SQLAlchemy URL (asyncpg over TCP) of the default database."""
        return self.url_for(self.database)

    @property
    def dsn(self) -> str:
        """libpq/asyncpg DSN (TCP) of the default database, for `asyncpg.connect(dsn)`."""
        return self.dsn_for(self.database)

    def url_for(self, database: str, *, user: str = SUPERUSER, password: str | None = None) -> str:
        """SQLAlchemy URL (asyncpg over TCP) of `database`, as `user` (with `password`)."""
        login = user if password is None else f"{user}:{quote(password, safe='')}"
        return f"postgresql+asyncpg://{login}@{HOST}:{self.port}/{database}"

    def dsn_for(self, database: str) -> str:
        """libpq/asyncpg DSN (TCP) of `database`."""
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{database}"

    # ------------------------------------------------------------------ databases

    def create_database(self, name: str) -> str:
        """Create an empty database `name` and return its SQLAlchemy URL (TCP)."""
        _check_database_name(name)
        self._client(["createdb", name])
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database `name`, disconnecting whoever is still connected to it."""
        _check_database_name(name)
        self._client(["dropdb", "--if-exists", "--force", name])

    def psql(self, sql: str, database: str | None = None) -> str:
        """Run SQL through psql and return its unaligned, tuples-only output."""
        return self._client(
            [
                "psql",
                "--no-psqlrc",
                "--set=ON_ERROR_STOP=1",
                "--no-align",
                "--tuples-only",
                f"--dbname={database or self.database}",
                f"--command={sql}",
            ]
        )

    def require_password(self, role: str, password: str) -> None:
        """Make `role` a login role (a superuser) that must give `password` over TCP.

        Creates the role, or gives it `password` again. The first call for a role puts a
        scram-sha-256 line for it into pg_hba.conf ahead of the trust lines and reloads the
        server; its wrong passwords fail with SQLSTATE 28P01 from then on.
        """
        _check_database_name(role)
        literal = password.replace("'", "''")
        if role in self._password_roles:
            self.psql(f"ALTER ROLE {role} PASSWORD '{literal}'")
            return
        self.psql(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{literal}'")
        hba = self.data_dir / "pg_hba.conf"
        rule = f"host all {role} {HOST}/32 scram-sha-256\n"
        # root may write the postgres user's file; the file keeps its owner
        hba.write_text(rule + hba.read_text())
        self.psql("SELECT pg_reload_conf()")
        self._wait_for_password_rule(role)
        self._password_roles.add(role)

    # ------------------------------------------------------------------ internals

    def _wait_for_password_rule(self, role: str) -> None:
        # The postmaster reloads pg_hba.conf on its signal, a moment later: wait until a login
        # without a password is refused.
        for _ in range(_TIMEOUT_S * 10):
            try:
                self._run(
                    [
                        str(self._require_bindir() / "psql"),
                        f"--host={HOST}",
                        f"--port={self.port}",
                        f"--username={role}",
                        "--no-password",
                        f"--dbname={self.database}",
                        "--command=SELECT 1",
                    ]
                )
            except PostgresError:
                return
            time.sleep(0.1)
        raise PostgresError(f"pg_hba.conf: the password rule for {role} never took effect")

    def _hand_to_postgres_user(self, tmp: Path) -> None:
        try:
            user = pwd.getpwnam(SUPERUSER)
        except KeyError as err:
            raise PostgresError(
                "running as root, and there is no 'postgres' system user to run the server as "
                "(Debian's postgresql package creates it; run scripts/setup)"
            ) from err
        os.chown(tmp, user.pw_uid, user.pw_gid)

    def _as_server_user(self, command: Sequence[str]) -> list[str]:
        if self._as_postgres:
            return ["runuser", "-u", SUPERUSER, "--", *command]
        return list(command)

    def _env(self) -> dict[str, str]:
        # No PG* variables from the caller's environment (PGHOST, PGPORT, ...) may redirect us.
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env["LC_ALL"] = "C"
        return env

    def _run_server_binary(self, command: Sequence[str], *, new_session: bool = False) -> str:
        return self._run(self._as_server_user(command), new_session=new_session)

    def _run(self, command: Sequence[str], *, new_session: bool = False) -> str:
        try:
            result = subprocess.run(
                command,
                cwd=self.tmp_dir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=False,
                timeout=_TIMEOUT_S,
                # The server must not get the terminal's Ctrl-C: teardown stops it instead.
                start_new_session=new_session,
            )
        except subprocess.TimeoutExpired as err:
            raise PostgresError(f"{shlex.join(command)} timed out after {_TIMEOUT_S} s") from err
        if result.returncode != 0:
            raise PostgresError(
                f"{shlex.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        return result.stdout

    def _client(self, command: Sequence[str]) -> str:
        binary, *args = command
        return self._run(
            [
                str(self._require_bindir() / binary),
                f"--host={self.socket_dir}",
                f"--port={self.port}",
                f"--username={SUPERUSER}",
                *args,
            ]
        )

    def _require_bindir(self) -> Path:
        if self._bindir is None:
            raise PostgresError("the server is not started")
        return self._bindir

    def _start_server(self) -> None:
        bindir = self._require_bindir()
        for attempt in range(1, _START_ATTEMPTS + 1):
            port = _free_port()
            settings = {
                "listen_addresses": HOST,
                "port": str(port),
                "unix_socket_directories": str(self.socket_dir),
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
            }
            # pg_ctl hands --options to a shell, hence the quoting.
            options = " ".join(f"-c {shlex.quote(f'{k}={v}')}" for k, v in settings.items())
            try:
                # -w: pg_ctl returns once the server accepts connections.
                self._run_server_binary(
                    [
                        str(bindir / "pg_ctl"),
                        "start",
                        f"--pgdata={self.data_dir}",
                        f"--log={self.log_file}",
                        "--wait",
                        f"--timeout={_TIMEOUT_S}",
                        f"--options={options}",
                    ],
                    new_session=True,
                )
            except PostgresError as err:
                log = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
                # Another process took the port between the probe and the bind: try another.
                if "could not bind" in log and attempt < _START_ATTEMPTS:
                    continue
                raise PostgresError(f"{err}\nserver log:\n{log}") from err
            self._port = port
            return

    def _stop_command(self, tmp: Path) -> list[str]:
        return self._as_server_user(
            [
                str(self._require_bindir() / "pg_ctl"),
                "stop",
                f"--pgdata={tmp / 'data'}",
                "--mode=immediate",
                "--wait",
                f"--timeout={_TIMEOUT_S}",
            ]
        )

    def _start_watchdog(self) -> None:
        self._watchdog = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WATCHDOG,
                str(os.getpid()),
                str(self.tmp_dir),
                *self._stop_command(self.tmp_dir),
            ],
            cwd="/",
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole test session; stopped and deleted at its end."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(
    postgres_server: PostgresServer,
    socket_enabled: None,
    request: pytest.FixtureRequest,
) -> Iterator[str]:
    """A fresh, empty database for one test: its SQLAlchemy URL (asyncpg, TCP); dropped after.

    Depends on pytest-socket's `socket_enabled` so that the test may connect to 127.0.0.1.
    """
    slug = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower()).strip("_")
    name = f"t{next(_DATABASE_NUMBERS)}_{slug}"[:63]
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture
def postgres_password_url(postgres_server: PostgresServer, postgres_url: str) -> str:
    """`postgres_url`'s database as `PASSWORD_ROLE`, which must log in with `PASSWORD`.

    The role's password is set to `PASSWORD` again for every test.
    """
    postgres_server.require_password(PASSWORD_ROLE, PASSWORD)
    database = postgres_url.rsplit("/", 1)[1]
    return postgres_server.url_for(database, user=PASSWORD_ROLE, password=PASSWORD)
