"""Running a Mosquitto of the repository's own configuration, for benchmarks and tests."""

from __future__ import annotations

import contextlib
import getpass
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from core.settings import MqttTarget
from eldercare.broker_admin import DynsecAdmin

DEPLOY_DIR = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto"
INGEST_USER = ("ingest", "ingest-secret")
SIMULATOR_USER = ("simulator", "simulator-secret")
ADMIN_USER = ("admin", "admin-secret")
DYNSEC_PLUGIN_PATHS = (
    "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)
START_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    """A loopback TCP port nothing listens on."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` different loopback TCP ports nothing listens on. Each socket is held until
    all are picked: ports picked one by one may repeat, and a server given the same port
    twice (its cluster and its monitor) fails to start."""
    with contextlib.ExitStack() as held:
        socks = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


@dataclass
class Mosquitto:
    """A Mosquitto process on loopback with its own port, users and data directory."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    _initialised: bool = False  # the logins are made once; the broker keeps them

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
            except OSError:
                time.sleep(0.05)
                continue
            if not self._initialised:
                with DynsecAdmin(self.target(ADMIN_USER)) as admin:
                    admin.init(INGEST_USER, SIMULATOR_USER)
                self._initialised = True
            return
        raise RuntimeError("mosquitto did not start listening")

    def stop(self, *, forget_sessions: bool = False) -> None:
        """Stop the broker; it saves persistent sessions unless told to forget them (the
        logins stay)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        if forget_sessions:
            for state in (self.workdir / "data").glob("*.db"):
                state.unlink()


def _dynsec_plugin() -> str:
    """This machine's dynamic security plugin (Debian's path, then others)."""
    for path in DYNSEC_PLUGIN_PATHS:
        if Path(path).exists():
            return path
    raise RuntimeError(
        "Mosquitto's dynamic security plugin is not installed (Debian: apt-get install mosquitto)"
    )


def make_mosquitto(workdir: Path) -> Mosquitto:
    """Write a config from deploy/mosquitto with a free port and local paths.

    Only the listener, the file paths and the process user change; every limit and the
    dynamic security plugin are the deployed ones, so what the tests and benchmarks see
    is what production gets. `start()` then creates the ingest and simulator logins
    through the plugin's control API, as `eldercare broker init --simulator` does.
    """
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_ctrl") is None:
        raise RuntimeError("mosquitto is not installed (Debian: apt-get install mosquitto)")
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (workdir / "data").mkdir(exist_ok=True)
    dynsec = workdir / "data" / "dynamic-security.json"
    if not dynsec.exists():
        subprocess.run(
            ["mosquitto_ctrl", "dynsec", "init", str(dynsec), *ADMIN_USER],
            check=True, capture_output=True,
        )  # fmt: skip
    conf = (DEPLOY_DIR / "mosquitto.conf").read_text()
    conf = conf.replace("listener 1883", f"listener {port} 127.0.0.1")
    conf = conf.replace(f"plugin {DYNSEC_PLUGIN_PATHS[2]}", f"plugin {_dynsec_plugin()}")
    conf = conf.replace("/mosquitto/data/", str(workdir / "data") + "/")
    # Run as ourselves: as root, mosquitto would switch to a user that cannot read workdir.
    conf += f"\nuser {getpass.getuser()}\n"
    (workdir / "mosquitto.conf").write_text(conf)
    return Mosquitto(port, workdir)
