"""Running a Mosquitto of the repository's own configuration, for benchmarks and tests."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from core.settings import MqttTarget

DEPLOY_DIR = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto"
INGEST_USER = ("ingest", "ingest-secret")
SIMULATOR_USER = ("simulator", "simulator-secret")
START_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    """A loopback TCP port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Mosquitto:
    """A Mosquitto process on loopback with its own port, users and data directory."""

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
        """Start the broker and wait until it accepts connections (blocking)."""
        with open(self.workdir / "mosquitto.log", "ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                ["mosquitto", "-c", str(self.workdir / "mosquitto.conf")],
                stdout=log, stderr=log,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log_text = (self.workdir / "mosquitto.log").read_text()
                raise RuntimeError(f"mosquitto exited: {log_text}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self, *, forget_sessions: bool = False) -> None:
        """Stop the broker; it saves persistent sessions unless told to forget them."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if forget_sessions:
            shutil.rmtree(self.workdir / "data", ignore_errors=True)
            (self.workdir / "data").mkdir()


def make_mosquitto(workdir: Path) -> Mosquitto:
    """Write a config from deploy/mosquitto with a free port and local paths.

    Only the listener, the file paths and the process user change; every limit is
    the deployed one, so what the tests and benchmarks see is what production gets.
    """
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_passwd") is None:
        raise RuntimeError("mosquitto is not installed (Debian: apt-get install mosquitto)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    passwd = workdir / "passwd"
    passwd.touch()
    for user, password in (INGEST_USER, SIMULATOR_USER):
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True)
    shutil.copy(DEPLOY_DIR / "acl", workdir / "acl")
    (workdir / "data").mkdir(exist_ok=True)
    conf = (DEPLOY_DIR / "mosquitto.conf").read_text()
    conf = conf.replace("listener 1883", f"listener {port} 127.0.0.1")
    conf = conf.replace("/mosquitto/config/passwd", str(passwd))
    conf = conf.replace("/mosquitto/config/acl", str(workdir / "acl"))
    conf = conf.replace("/mosquitto/data/", str(workdir / "data") + "/")
    # Run as ourselves: as root, mosquitto would switch to a user that cannot read workdir.
    conf += f"\nuser {getpass.getuser()}\n"
    (workdir / "mosquitto.conf").write_text(conf)
    return Mosquitto(port, workdir)
