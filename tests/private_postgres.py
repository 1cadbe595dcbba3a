"""A PostgreSQL cluster of a test's own, which the test may stop and start at will.

The suite's shared servers serve other tests (and other engineers) at the same time, so a
test that takes the database away starts its own: initdb into a fresh directory, a free
port on loopback, trust auth. As root, the server runs as the `postgres` OS user (it
refuses to run as root), so its directory lives under /tmp rather than pytest's tmp_path,
which only root may enter.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from eldercare.mosquitto import free_port

START_TIMEOUT_SECONDS = 60


def postgres_bindir() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian's layout), if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_key)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _version_key(path: str) -> tuple[int, ...]:
    part = path.split("/")[4]
    return tuple(int(x) for x in part.split(".") if x.isdigit())


@dataclass
class PrivateCluster:
    """A stopped-or-running PostgreSQL server in `datadir`, listening on 127.0.0.1:port."""

    bindir: Path
    datadir: Path
    port: int

    @property
    def admin_url(self) -> str:
        """The superuser's URL to the `postgres` database."""
        return self.url("postgres")

    def url(self, database: str, user: str = "postgres") -> str:
        """A URL to `database` as `user` (trust auth: no password)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1"
            f" -c unix_socket_directories={self.datadir} -c fsync=off -c max_connections=50"
        )
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.datadir / "server.log"),
                  "-o", options, "-w", "-t", str(START_TIMEOUT_SECONDS), "start")  # fmt: skip

    def stop(self) -> None:
        """Stop the server at once (fast shutdown: sessions are ended, as in a restart)."""
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        """Stop (if running) and delete the cluster."""
        if (self.datadir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.datadir.parent, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def create_private_cluster() -> PrivateCluster:
    """initdb a new cluster (not started) on a free port."""
    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries (Debian: apt-get install postgresql)")
    parent = Path(tempfile.mkdtemp(prefix="eldercare-pg-"))
    datadir = parent / "data"
    datadir.mkdir()
    if os.geteuid() == 0:
        shutil.chown(parent, "postgres", "postgres")
        shutil.chown(datadir, "postgres", "postgres")
    cluster = PrivateCluster(bindir, datadir, free_port())
    cluster._run("initdb", "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                 "--locale=C.UTF-8")  # fmt: skip
    return cluster
