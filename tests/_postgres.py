"""A throw-away PostgreSQL cluster for tests: `initdb` into a temporary directory, served on a free
loopback port with trust authentication, one database per test, stopped and deleted at the end.

PostgreSQL refuses to run as root; when the tests run as root (CI), the cluster runs as the `postgres`
system user (or `ALLMENDE_PG_USER`) through `runuser`. `ALLMENDE_PG_BIN` may name the directory of the
server binaries; otherwise `initdb` on PATH or the newest `/usr/lib/postgresql/*/bin` is used.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql

START_ATTEMPTS = 5
TIMEOUT_S = 30.0


def find_bin_dir() -> Path | None:
    """The directory holding `initdb`, `pg_ctl` and `postgres`, or None when they are not installed."""
    candidates: list[Path] = []
    if env := os.environ.get("ALLMENDE_PG_BIN"):
        candidates.append(Path(env))
    if found := shutil.which("initdb"):
        candidates.append(Path(found).resolve().parent)
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(versions)
    for c in candidates:
        if all(
            (c / tool).is_file() and os.access(c / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")
        ):
            return c
    return None


PG_BIN = find_bin_dir()
NO_PG_REASON = "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; set ALLMENDE_PG_BIN"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PostgresCluster:
    """One PostgreSQL server in a temporary directory, listening on 127.0.0.1 only."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = 0
        self.pid: int | None = None
        self._as_user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            user = os.environ.get("ALLMENDE_PG_USER", "postgres")
            try:
                self._as_user = pwd.getpwnam(user)
            except KeyError:
                raise RuntimeError(
                    f"running as root, the test cluster needs an unprivileged user {user!r} to run as; "
                    "create it or name another with ALLMENDE_PG_USER"
                ) from None
        # /tmp, not $TMPDIR: the server user must reach it, and socket paths must stay short
        self.root = Path(tempfile.mkdtemp(prefix="allmende-pg-", dir="/tmp" if self._as_user else None))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.log = self.root / "server.log"

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> PostgresCluster:
        """initdb, then start on a free port (retrying if another process takes the port first)."""
        self.sockets.mkdir()
        if self._as_user is not None:
            for path in (self.root, self.sockets):
                os.chown(path, self._as_user.pw_uid, self._as_user.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        (self.data / "pg_hba.conf").write_text(
            "# throw-away test cluster: trust on the socket and on 127.0.0.1 only\n"
            "local all all trust\n"
            "host  all all 127.0.0.1/32 trust\n"
        )
        for attempt in range(START_ATTEMPTS):
            self.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sockets} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
            )
            started = self._run(
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                "30",
                "start",
                check=False,
            )
            if started.returncode == 0:
                break
            if attempt == START_ATTEMPTS - 1:
                raise RuntimeError(f"PostgreSQL did not start:\n{started.stdout}\n{self._log_tail()}")
        self.pid = int((self.data / "postmaster.pid").read_text().split()[0])
        return self

    def stop(self) -> None:
        """Stop the server (immediately; its data is thrown away) and delete the directory."""
        if self.pid is not None:
            stopped = self._run(
                "pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30", "stop", check=False
            )
            if stopped.returncode != 0 or _alive(self.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid, signal.SIGKILL)
            deadline = time.monotonic() + TIMEOUT_S
            while _alive(self.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            self.pid = None
        shutil.rmtree(self.root, ignore_errors=True)

    # --- databases ---------------------------------------------------------------------------

    def url(self, database: str) -> str:
        """SQLAlchemy URL of a database of this cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        )

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        name = f"t_{uuid.uuid4().hex[:16]}"
        with self._admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, closing whatever connections are still open to it."""
        with self._admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """The URL of a fresh database, dropped afterwards."""
        name = self.create_database()
        try:
            yield self.url(name)
        finally:
            self.drop_database(name)

    # --- helpers -----------------------------------------------------------------------------

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / tool), *args]
        if self._as_user is not None:
            command = ["runuser", "-u", self._as_user.pw_name, "--", *command]
        result = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT_S * 2,
            check=False,
            cwd=self.root,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}):\n{result.stdout}")
        return result

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
