"""Real services for tests: throwaway databases and Mosquitto brokers on loopback."""

from __future__ import annotations

import getpass
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from core.settings import MqttTarget

REPO = Path(__file__).resolve().parent.parent
MOSQUITTO_CONF = REPO / "deploy" / "mosquitto" / "mosquitto.conf"
MOSQUITTO_ACL = REPO / "deploy" / "mosquitto" / "acl"

# The PostgreSQL server the suite runs against: plain PostgreSQL or TimescaleDB.
ADMIN_URL = os.environ.get(
    "ELDERCARE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# What that server is expected to be, so a run meant for TimescaleDB cannot pass on
# plain PostgreSQL by accident.
EXPECT_BACKEND = os.environ.get("ELDERCARE_TEST_EXPECT_BACKEND", "")
# A command that takes `stop` or `start` for that server (the outage test uses it).
PG_CTL = os.environ.get("ELDERCARE_TEST_PG_CTL", "")

INGEST_USER = ("ingest", "ingest-secret")
SIMULATOR_USER = ("simulator", "simulator-secret")


def free_port() -> int:
    """A loopback TCP port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def database_url(name: str) -> str:
    """ADMIN_URL pointed at another database."""
    return re.sub(r"/[^/?]*(\?|$)", f"/{name}\\1", ADMIN_URL, count=1)


def unique_name(prefix: str) -> str:
    """A fresh identifier safe for database and device names."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@dataclass
class Mosquitto:
    """A Mosquitto process running the repo's config on its own port."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    def target(self, user: tuple[str, str] = INGEST_USER) -> MqttTarget:
        """Where and as whom to connect."""
        return MqttTarget("127.0.0.1", self.port, user[0], user[1])

    def url(self, user: tuple[str, str] = INGEST_USER) -> str:
        """The broker as an ELDERCARE_MQTT_URL."""
        return f"mqtt://{user[0]}:{user[1]}@127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start (or restart) the broker and wait until it accepts connections."""
        with open(self.workdir / "mosquitto.log", "ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                ["mosquitto", "-c", str(self.workdir / "mosquitto.conf")],
                stdout=log, stderr=log,
            )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mosquitto exited: {(self.workdir / 'mosquitto.log').read_text()}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        """Stop the broker (it saves its persistent sessions on a clean stop)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def make_mosquitto(workdir: Path) -> Mosquitto:
    """Write a config from the repo's file with a free port and local paths."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    passwd = workdir / "passwd"
    passwd.touch()
    for user, password in (INGEST_USER, SIMULATOR_USER):
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True)
    shutil.copy(MOSQUITTO_ACL, workdir / "acl")
    (workdir / "data").mkdir(exist_ok=True)
    conf = MOSQUITTO_CONF.read_text()
    conf = conf.replace("listener 1883", f"listener {port} 127.0.0.1")
    conf = conf.replace("/mosquitto/config/passwd", str(passwd))
    conf = conf.replace("/mosquitto/config/acl", str(workdir / "acl"))
    conf = conf.replace("/mosquitto/data/", str(workdir / "data") + "/")
    # Run as ourselves: as root, mosquitto would switch to a user that cannot read tmp_path.
    conf += f"\nuser {getpass.getuser()}\n"
    (workdir / "mosquitto.conf").write_text(conf)
    return Mosquitto(port, workdir)
