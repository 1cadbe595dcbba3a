"""A NATS JetStream cluster on loopback (nats-server processes with the MQTT listener on),
for the tests and the benchmark; `node_config` is the same config the compose profile
uses for its nodes."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.settings import MqttTarget
from eldercare.mosquitto import free_ports

START_TIMEOUT_SECONDS = 15.0
CLUSTER_NAME = "eldercare"


def node_config(
    name: str,
    *,
    client: str,
    cluster: str,
    mqtt: str,
    routes: list[str],
    store_dir: str,
    extra: str = "",
) -> str:
    """One node's nats-server config: JetStream, the cluster's routes, the MQTT listener.
    `client`, `cluster` and `mqtt` are host:port to listen on; `routes` the other nodes'
    cluster host:port (all of them, itself included, is fine)."""
    route_list = ", ".join(f"nats-route://{r}" for r in routes)
    cluster_block = (
        f"cluster {{\n  name: {CLUSTER_NAME}\n  listen: {cluster}\n  routes: [{route_list}]\n}}\n"
        if routes
        else ""
    )
    return (
        f"server_name: {name}\n"
        f"listen: {client}\n"
        f'jetstream {{\n  store_dir: "{store_dir}"\n}}\n'
        f"{cluster_block}"
        f"mqtt {{\n  listen: {mqtt}\n}}\n"
        f"{extra}"
    )


@dataclass
class NatsNode:
    """One nats-server process of a local cluster."""

    name: str
    client_port: int
    cluster_port: int
    mqtt_port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its client URL."""
        return f"nats://127.0.0.1:{self.client_port}"

    def mqtt_target(self, user: str = "device", password: str = "") -> MqttTarget:
        """Its MQTT listener, for devices."""
        return MqttTarget("127.0.0.1", self.mqtt_port, user, password or None)

    def start(self) -> None:
        """Start it and wait until its client and MQTT ports accept connections."""
        with open(self.workdir / "nats.log", "ab") as log:
            self.process = subprocess.Popen(
                ["nats-server", "-c", str(self.workdir / "nats.conf")], stdout=log, stderr=log
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        waiting = [self.client_port, self.mqtt_port]
        while waiting:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited: {(self.workdir / 'nats.log').read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"nats-server {self.name} did not start listening")
            try:
                socket.create_connection(("127.0.0.1", waiting[0]), timeout=0.2).close()
                waiting.pop(0)
            except OSError:
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: a machine lost, no goodbye."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Stop it cleanly."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class NatsCluster:
    """`size` nodes routed to each other; one node is a plain server, no cluster."""

    nodes: list[NatsNode] = field(default_factory=list)

    @property
    def urls(self) -> tuple[str, ...]:
        """Every node's client URL (ELDERCARE_NATS_URL)."""
        return tuple(node.url for node in self.nodes)

    def start(self) -> None:
        """Start every node."""
        for node in self.nodes:
            node.start()

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()


def make_cluster(workdir: Path, size: int = 3, extra: str = "") -> NatsCluster:
    """Write the configs of a loopback cluster of `size` nodes on free ports."""
    shutil.rmtree(workdir, ignore_errors=True)
    nodes = []
    ports = iter(free_ports(3 * size))
    for index in range(1, size + 1):
        node_dir = workdir / f"n{index}"
        (node_dir / "js").mkdir(parents=True)
        nodes.append(NatsNode(f"n{index}", next(ports), next(ports), next(ports), node_dir))
    routes = [f"127.0.0.1:{n.cluster_port}" for n in nodes] if size > 1 else []
    for node in nodes:
        config = node_config(
            node.name,
            client=f"127.0.0.1:{node.client_port}",
            cluster=f"127.0.0.1:{node.cluster_port}",
            mqtt=f"127.0.0.1:{node.mqtt_port}",
            routes=routes,
            store_dir=str(node.workdir / "js"),
            extra=extra,
        )
        (node.workdir / "nats.conf").write_text(config)
    return NatsCluster(nodes)
