"""What an operator deploys: the Dockerfile installs the wheel and nothing of the source
tree, compose waits on health and passes every setting, images are pinned by digest, and
`eldercare healthcheck` (the image's HEALTHCHECK) tells a ready API from a missing one.
CI also lints the Dockerfile (hadolint), renders the compose file (`docker compose
config`) and installs and runs the wheel (.ci/wheel-smoke.sh)."""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import nats
import pytest
import yaml

from core.committed import owned_partitions
from core.settings import SETTINGS, Settings
from eldercare.commands.healthcheck import readyz_url
from eldercare.mosquitto import free_port, free_ports
from eldercare.nats_cluster import NatsNode, node_config
from tests.api_helpers import api_world
from tests.processes import stop_process

ROOT = Path(__file__).resolve().parent.parent
DIGEST = re.compile(r"^[^\s@]+:[^\s@]+@sha256:[0-9a-f]{64}$")
# Settings a compose service does not take from .env, and why.
NOT_PASSED = {
    "ELDERCARE_DATA_DIR": "the embedded services' data; compose runs real ones",
    "ELDERCARE_BROKER_ADMIN_URL": "the broker's admin login: only the broker steps get it",
}
# Set per service in the compose file rather than from .env.
SET_PER_SERVICE = {
    "ELDERCARE_MQTT_URL", "ELDERCARE_INGEST_CLIENT_ID", "ELDERCARE_API_HOST",
    "ELDERCARE_API_PORT",
}  # fmt: skip
# Services with no health check of their own, and why.
NO_HEALTHCHECK = {
    "migrate": "one-shot: its exit code is its health (service_completed_successfully)",
    "broker-setup": "one-shot: the broker's admin login, made once",
    "broker-init": "one-shot: the ingest login and role (eldercare broker init)",
    "simulator-login": "one-shot, simulator profile: the simulator's login",
    "simulator": "a load source that serves nothing and that nothing waits on",
}


def _dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    stages: list[list[tuple[str, str]]] = [[]]
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), " ".join(rest.split())))
    return stages


def test_the_image_installs_the_wheel_with_the_constraints_and_nothing_else() -> None:
    preamble, *stages = _dockerfile_stages()
    args = dict(a.split("=", 1) for i, a in preamble if i == "ARG")
    assert DIGEST.match(args["PYTHON_IMAGE"]), "the base image is pinned by digest"
    assert [stage[0][1].split()[0] for stage in stages] == ["${PYTHON_IMAGE}"] * len(stages)
    *builders, final = stages
    build_runs = [a for s in builders for i, a in s if i == "RUN"]
    assert any(a.startswith("pip wheel --no-deps --wheel-dir /wheels .") for a in build_runs)
    # The final stage takes the wheel from the build stage and, from the build context,
    # the constraints file only: no package directory, no source tree.
    copies = [a for i, a in final if i in ("COPY", "ADD")]
    assert copies == ["--from=wheel /wheels /tmp/wheels", "constraints.txt /tmp/constraints.txt"]
    (install,) = [a for i, a in final if i == "RUN"]
    pip = shlex.split(install.split("&&")[0])
    assert pip[:4] == ["pip", "install", "--constraint", "/tmp/constraints.txt"]
    assert pip[4:] == ["/tmp/wheels/eldercare-*.whl"] and "-e" not in pip
    (user,) = [a for i, a in final if i == "USER"]
    assert user.split(":")[0] not in ("0", "root")
    (healthcheck,) = [a for i, a in final if i == "HEALTHCHECK"]
    assert healthcheck.endswith('CMD ["eldercare", "healthcheck"]')


def test_the_build_context_holds_what_the_wheel_needs() -> None:
    ignored = {
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }  # fmt: skip
    needed = {"pyproject.toml", "README.md", "constraints.txt", "core", "storage", "api"}
    assert not needed & ignored
    assert {"tests", ".venv", ".git", ".env"} <= ignored


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_compose_pins_images_by_digest_and_waits_on_health() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "image" in service:
            assert DIGEST.match(service["image"]), f"{name}: {service['image']} has no digest"
        healthcheck = service.get("healthcheck", {})
        if name in NO_HEALTHCHECK:
            assert healthcheck == {"disable": True}, name
        else:
            assert healthcheck.get("test") and not healthcheck.get("disable"), name
        for needed, how in service.get("depends_on", {}).items():
            expected = (
                "service_completed_successfully" if needed in NO_HEALTHCHECK else "service_healthy"
            )
            assert how == {"condition": expected}, f"{name} → {needed}: {how}"
    assert set(NO_HEALTHCHECK) < set(services)


def test_compose_passes_every_setting_the_services_read() -> None:
    services = _compose()["services"]
    app_services = {name: s for name, s in services.items() if "build" in s}
    assert set(app_services) == {
        "migrate",
        "eldercare",
        "simulator",
        "broker-init",
        "simulator-login",
    }
    every = {spec.env for spec in SETTINGS}
    assert set(NOT_PASSED) <= every
    for name, service in app_services.items():
        passed = set(service["environment"])
        simulator_only = {e for e in every if e.startswith("ELDERCARE_SIMULATOR_")}
        wanted = every - set(NOT_PASSED) - SET_PER_SERVICE - simulator_only
        assert not wanted - passed, f"{name} lacks {sorted(wanted - passed)}"
        assert passed <= every, f"{name} passes unknown {sorted(passed - every)}"
    eldercare = app_services["eldercare"]["environment"]
    assert set(eldercare) >= SET_PER_SERVICE
    assert {e for e in every if e.startswith("ELDERCARE_SIMULATOR_")} <= set(
        app_services["simulator"]["environment"]
    )


def test_every_variable_compose_reads_is_in_the_env_example() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))
    example = (ROOT / "deploy" / "env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", example, re.MULTILINE))
    assert used and not used - listed, f"not in deploy/env.example: {sorted(used - listed)}"


async def _healthcheck(port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ELDERCARE_API_PORT": str(port), "ELDERCARE_API_HOST": "0.0.0.0"}
    return await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "eldercare", "healthcheck"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


async def test_healthcheck_passes_on_a_ready_api_and_fails_on_none(db_url: str) -> None:
    async with api_world(db_url) as world:
        port = world.server.port
        assert port is not None
        ready = await _healthcheck(port)
        assert ready.returncode == 0, ready.stderr
        assert '"database":true' in ready.stdout.replace(" ", "")
    nothing = await _healthcheck(free_port())
    assert nothing.returncode == 1 and "unreachable" in nothing.stderr


@pytest.mark.parametrize(
    ("host", "url"),
    [("0.0.0.0", "http://127.0.0.1:8080/readyz"), ("::", "http://[::1]:8080/readyz"),
     ("10.1.2.3", "http://10.1.2.3:8080/readyz")],
)  # fmt: skip
def test_healthcheck_asks_loopback_when_the_api_listens_everywhere(host: str, url: str) -> None:
    assert readyz_url(Settings.from_env({"ELDERCARE_API_HOST": host})) == url


def test_prometheus_and_grafana_in_compose_read_the_shipped_files() -> None:
    services = _compose()["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    config = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert (ROOT / "deploy" / "prometheus" / config["rule_files"][0]).is_file()
    # The token file every job sends is the secret compose hands to Prometheus.
    for job in config["scrape_configs"]:
        secret = job["authorization"]["credentials_file"].removeprefix("/run/secrets/")
        assert secret in prometheus["secrets"] and secret in _compose()["secrets"], job
        assert [t for c in job["static_configs"] for t in c["targets"]] == ["eldercare:8080"]
    provider = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/eldercare.yml").read_text()
    )
    dashboards = provider["providers"][0]["options"]["path"]
    assert f"./deploy/grafana/dashboards:{dashboards}:ro" in grafana["volumes"]
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]


# --- Past one machine: docker-compose.cluster.yml and the NATS nodes' configs ----------

CLUSTER_NODES = ("nats-1", "nats-2", "nats-3")
# Settings the cluster's services do not take from the anchor, and why.
CLUSTER_NOT_PASSED = {
    **NOT_PASSED,
    "ELDERCARE_MQTT_URL": "no Mosquitto: devices and workers use the NATS cluster",
}
# Set per service in the cluster file, and by which services.
CLUSTER_PER_SERVICE = {
    "ELDERCARE_INGEST_CLIENT_ID": {"ingest-1", "ingest-2"},
    "ELDERCARE_DETECTOR_SHARE": {"detectors-1", "detectors-2"},
    "ELDERCARE_API_HOST": {"eldercare"},
    "ELDERCARE_API_PORT": {"eldercare"},
    "ELDERCARE_API_SECURE_COOKIES": {"eldercare"},
    "ELDERCARE_API_TRUSTED_PROXIES": {"eldercare"},
}
CLUSTER_NO_HEALTHCHECK = {
    "migrate": "one-shot: its exit code is its health",
    "nats-users": "one-shot: the nodes' users file (eldercare nats-users)",
    "ingest-1": "a worker that serves nothing and that nothing waits on",
    "ingest-2": "a worker that serves nothing and that nothing waits on",
    "detectors-1": "a worker that serves nothing and that nothing waits on",
    "detectors-2": "a worker that serves nothing and that nothing waits on",
    "alerts": "a worker that serves nothing and that nothing waits on",
}


def _cluster() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.cluster.yml").read_text())
    return loaded


def _node_file(service: dict[str, Any]) -> Path:
    (mount,) = [v for v in service["volumes"] if v.endswith(":/etc/nats/nats.conf:ro")]
    return ROOT / mount.split(":")[0]


def test_the_cluster_pins_images_by_digest_and_waits_on_health() -> None:
    services = _cluster()["services"]
    assert set(CLUSTER_NODES) | set(CLUSTER_NO_HEALTHCHECK) < set(services)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "image" in service:
            assert DIGEST.match(service["image"]), f"{name}: {service['image']} has no digest"
        healthcheck = service.get("healthcheck", {})
        if name in CLUSTER_NO_HEALTHCHECK:
            assert healthcheck == {"disable": True}, name
        else:
            assert healthcheck.get("test") and not healthcheck.get("disable"), name
        for needed, how in service.get("depends_on", {}).items():
            expected = (
                "service_completed_successfully"
                if needed in CLUSTER_NO_HEALTHCHECK
                else "service_healthy"
            )
            assert how == {"condition": expected}, f"{name} → {needed}: {how}"
    for node in CLUSTER_NODES:
        # The nodes answer /healthz on the monitoring port their config opens.
        assert services[node]["healthcheck"]["test"][-1] == "http://127.0.0.1:8222/healthz"
        assert "http: 0.0.0.0:8222" in _node_file(services[node]).read_text()
    # Every worker waits for every node.
    for worker in ("ingest-1", "ingest-2", "detectors-1", "detectors-2"):
        assert set(CLUSTER_NODES) <= set(services[worker]["depends_on"]), worker


def test_every_cluster_service_takes_every_setting_from_the_anchor() -> None:
    cluster = _cluster()
    anchor = cluster["x-eldercare-settings"]
    # The same settings as docker-compose.yml's anchor (which the test above holds to
    # SETTINGS); none a cluster service takes elsewhere.
    assert set(anchor) == set(_compose()["x-eldercare-settings"])
    assert not set(anchor) & set(CLUSTER_NOT_PASSED)
    assert anchor["ELDERCARE_NATS_URL"].startswith("nats://eldercare:")
    app_services = {n: s for n, s in cluster["services"].items() if "build" in s}
    assert set(app_services) == {
        "migrate", "nats-users", "ingest-1", "ingest-2", "detectors-1", "detectors-2",
        "alerts", "eldercare",
    }  # fmt: skip
    for name, service in app_services.items():
        env = service["environment"]
        for key, value in anchor.items():
            if name in CLUSTER_PER_SERVICE.get(key, set()):
                continue
            assert env.get(key) == value, f"{name}: {key} is not the anchor's"
        extra = set(env) - set(anchor)
        assert all(name in CLUSTER_PER_SERVICE.get(k, set()) for k in extra), (name, extra)
    # Each ingest worker its own client id; the API service runs `eldercare api`.
    ids = [app_services[n]["environment"]["ELDERCARE_INGEST_CLIENT_ID"] for n in
           ("ingest-1", "ingest-2")]  # fmt: skip
    assert len(set(ids)) == 2
    assert app_services["eldercare"]["command"] == ["api"]


def test_the_cluster_url_and_every_nodes_routes_name_every_node() -> None:
    cluster = _cluster()
    nodes = {n: s for n, s in cluster["services"].items() if s.get("image", "").startswith("nats:")}
    assert tuple(sorted(nodes)) == CLUSTER_NODES
    url = cluster["x-eldercare-settings"]["ELDERCARE_NATS_URL"].replace(
        "${NATS_SERVICE_PASSWORD:?set NATS_SERVICE_PASSWORD in .env}", "secret"
    )
    settings = Settings.from_env({"ELDERCARE_NATS_URL": url})
    assert settings.nats_url == tuple(f"nats://eldercare:secret@{n}:4222" for n in CLUSTER_NODES)
    for name, service in nodes.items():
        text = _node_file(service).read_text()
        body = "".join(line for line in text.splitlines(keepends=True) if not line.startswith("#"))
        # The shipped file is node_config's output: the config the NATS tests run.
        assert body == node_config(
            name, client="0.0.0.0:4222", cluster="0.0.0.0:6222", mqtt="0.0.0.0:1883",
            routes=[f"{n}:6222" for n in CLUSTER_NODES], store_dir="/data/jetstream",
            extra='http: 0.0.0.0:8222\ninclude "users/users.conf"\n',
        ), name  # fmt: skip
        (routes,) = re.findall(r"routes: \[(.*)\]", body)
        assert {r.strip() for r in routes.split(",")} == {
            f"nats-route://{n}:6222" for n in CLUSTER_NODES
        }
        assert "nats-users:/etc/nats/users:ro" in service["volumes"]
        assert any(v.endswith(":/data") for v in service["volumes"]), name
    assert cluster["services"]["nats-users"]["command"][-1] == "/nats-users/users.conf"


def test_the_detector_workers_shares_cover_every_partition_once() -> None:
    services = _cluster()["services"]
    detectors = [s for s in services.values() if s.get("command") == ["detectors"]]
    assert len(detectors) == 2
    key = "ELDERCARE_DETECTOR_SHARE"
    shares = [Settings.from_env({key: s["environment"][key]}).detector_share for s in detectors]
    assert sorted(i for i, _ in shares) == list(range(len(detectors)))
    assert {count for _, count in shares} == {len(detectors)}
    owned = [p for index, count in shares for p in owned_partitions(index, count, 64)]
    assert sorted(owned) == list(range(64))
    assert [s["command"] for s in services.values() if s.get("command") == ["ingest"]] == [
        ["ingest"], ["ingest"]
    ]  # fmt: skip


def test_the_cluster_file_reads_only_variables_of_the_env_example() -> None:
    text = (ROOT / "docker-compose.cluster.yml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))
    example = (ROOT / "deploy" / "env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", example, re.MULTILINE))
    assert "NATS_SERVICE_PASSWORD" in used
    assert not used - listed, f"not in deploy/env.example: {sorted(used - listed)}"


def _loopback_configs(workdir: Path) -> list[tuple[NatsNode, int]]:
    """The shipped node configs with their listeners moved to free loopback ports, the
    store to `workdir` and the users file written by `eldercare nats-users`; each node
    with its monitoring port."""
    nodes = []
    ports = iter(free_ports(4 * len(CLUSTER_NODES)))
    for name in CLUSTER_NODES:
        node_dir = workdir / name
        (node_dir / "users").mkdir(parents=True)
        nodes.append(NatsNode(name, next(ports), next(ports), next(ports), node_dir))
    http = {node.name: next(ports) for node in nodes}
    devices = workdir / "devices.csv"
    devices.write_text("water-0001,pw-one\n")
    for node in nodes:
        text = (ROOT / "deploy" / "nats" / f"{node.name}.conf").read_text()
        swaps = {
            "0.0.0.0:4222": f"127.0.0.1:{node.client_port}",
            "0.0.0.0:6222": f"127.0.0.1:{node.cluster_port}",
            "0.0.0.0:1883": f"127.0.0.1:{node.mqtt_port}",
            "0.0.0.0:8222": f"127.0.0.1:{http[node.name]}",
            "/data/jetstream": str(node.workdir / "js"),
            **{f"{n.name}:6222": f"127.0.0.1:{n.cluster_port}" for n in nodes},
        }
        for old, new in swaps.items():
            assert old in text, f"{node.name}.conf has no {old}"
            text = text.replace(old, new)
        (node.workdir / "nats.conf").write_text(text)
        made = subprocess.run(
            [sys.executable, "-m", "eldercare", "nats-users", str(devices),
             "--out", str(node.workdir / "users" / "users.conf")],
            env={**os.environ, "ELDERCARE_NATS_URL": "nats://eldercare:svc-pw@127.0.0.1:4222"},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        tested = subprocess.run(
            ["nats-server", "-t", "-c", str(node.workdir / "nats.conf")],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert tested.returncode == 0, tested.stdout + tested.stderr
    return [(node, http[node.name]) for node in nodes]


async def _get_json(url: str) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json(content_type=None)


async def test_the_shipped_node_configs_start_as_a_three_node_cluster(tmp_path: Path) -> None:
    configured = _loopback_configs(tmp_path)
    nodes = [node for node, _ in configured]
    try:
        for node in nodes:
            await asyncio.to_thread(node.start)
        # Each node healthy (JetStream up, as compose's health check asks) and routed to
        # the two others.
        for node, http_port in configured:
            base = f"http://127.0.0.1:{http_port}"
            for _ in range(300):
                status, _body = await _get_json(base + "/healthz")
                _, routes = await _get_json(base + "/routez")
                if status == 200 and routes["num_routes"] == 2:
                    break
                await asyncio.sleep(0.1)
            assert status == 200, f"{node.name} /healthz: {_body}"
            assert routes["num_routes"] == 2, f"{node.name}: {routes}"
        # The services' user of the users file reaches JetStream through any node; a
        # stranger is refused.
        client = await nats.connect(
            "nats://eldercare:svc-pw@127.0.0.1:" + str(nodes[2].client_port),
            allow_reconnect=False,
        )
        try:
            info = await client.jetstream().account_info()
            assert info.streams == 0
        finally:
            await client.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", nodes[0].client_port)
        try:
            await reader.readline()  # INFO
            writer.write(b'CONNECT {"user":"stranger","pass":"nope","verbose":false}\r\nPING\r\n')
            await writer.drain()
            assert b"Authorization Violation" in await asyncio.wait_for(reader.readline(), 10)
        finally:
            writer.close()
            await writer.wait_closed()
    finally:
        for node in nodes:
            await asyncio.to_thread(node.stop)


async def test_eldercare_api_serves_the_console_alone(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "ELDERCARE_DATABASE_URL": db_url, "ELDERCARE_API_PORT": str(port),
           "ELDERCARE_API_HOST": "127.0.0.1"}  # fmt: skip
    env.pop("ELDERCARE_MQTT_URL", None)
    env.pop("ELDERCARE_NATS_URL", None)
    log = tmp_path / "api.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "eldercare", "api", env=env, stdout=out, stderr=out
        )
    try:
        ready = None
        for _ in range(300):
            if process.returncode is not None:
                break
            ready = await _healthcheck(port)
            if ready.returncode == 0:
                break
            await asyncio.sleep(0.2)
        assert ready is not None and ready.returncode == 0, log.read_text()
        assert '"database":true' in ready.stdout.replace(" ", "")
        status, _ = await _get_json(f"http://127.0.0.1:{port}/readyz")
        assert status == 200
    finally:
        await stop_process(process)
