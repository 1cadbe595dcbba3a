"""The broker's logins and rights, through Mosquitto's dynamic security plugin.

Commands go as JSON to `$CONTROL/dynamic-security/v1` over MQTT and the answers come
back on `.../response`, so a device's login is one message to a running broker: no
password file rewritten per device, no broker restart. Many devices go in one pass
(commands batched per message).

The layout (DESIGN: devices write, ingest reads):
- each device is a client whose user name AND client id are the device id, with a role
  of its own that may publish only under `eldercare/v1/devices/<id>/`. It may subscribe
  to nothing (the default ACL denies subscriptions), so it can neither join ingest's
  `$share` group nor read other homes; and it cannot connect under ingest's client id.
- `ingest` may subscribe to the device topics (plainly or in a `$share` group) and
  publish and read its own heartbeats.
- `simulator` (test and demo profile only, created on request) may publish every
  device's topic.

Blocking (paho runs its own network thread): call it from a thread in async code.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from core.settings import MqttTarget

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = CONTROL_TOPIC + "/response"
DEVICE_TOPICS = "eldercare/v1/devices/#"
INGEST_ROLE = "ingest"
SIMULATOR_ROLE = "simulator"
DEVICE_ROLE_PREFIX = "device-"
# Commands per control message: large enough that 10,000 devices take a few round
# trips, small enough to stay far below the broker's packet size limit.
COMMANDS_PER_MESSAGE = 200
TIMEOUT_SECONDS = 30.0
# 24 random bytes, URL-safe: 32 characters a device's firmware can carry as is.
SECRET_BYTES = 24

INGEST_ACLS = (
    ("subscribePattern", DEVICE_TOPICS),
    ("subscribePattern", "$share/+/" + DEVICE_TOPICS),
    ("publishClientSend", "eldercare/v1/ingest/+/heartbeat"),
    ("subscribePattern", "eldercare/v1/ingest/+/heartbeat"),
)
SIMULATOR_ACLS = (("publishClientSend", DEVICE_TOPICS),)


class BrokerAdminError(RuntimeError):
    """The broker could not be reached, refused the admin login, or refused a command."""


@dataclass(frozen=True, slots=True)
class Credential:
    """A device's broker login: user name and client id are the device id."""

    device_id: str
    password: str


def new_secret() -> str:
    """A random password, printed once and kept nowhere by us."""
    return secrets.token_urlsafe(SECRET_BYTES)


def device_role(device_id: str) -> str:
    """The role that lets one device publish under its own topic."""
    return DEVICE_ROLE_PREFIX + device_id


def device_acls(device_id: str) -> list[dict[str, Any]]:
    """A device's role's ACLs: publish under its own topics, nothing else."""
    return _acls([("publishClientSend", f"eldercare/v1/devices/{device_id}/#")])


def _acls(pairs: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"acltype": kind, "topic": topic, "priority": 0, "allow": True} for kind, topic in pairs
    ]


class DynsecAdmin:
    """A connection to the broker as its dynamic-security admin. Use as a context manager."""

    def __init__(self, target: MqttTarget, timeout_s: float = TIMEOUT_SECONDS) -> None:
        self._target = target
        self._timeout_s = timeout_s
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"eldercare-admin-{uuid.uuid4().hex[:8]}",
            protocol=paho.MQTTv311,
        )
        if target.username:
            self._client.username_pw_set(target.username, target.password)
        if target.tls:
            self._client.tls_set()
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._connected = threading.Event()
        self._refused: str | None = None
        self._answers: dict[str, list[dict[str, Any]]] = {}
        self._answered = threading.Condition(self._lock)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    def __enter__(self) -> DynsecAdmin:
        try:
            self._client.connect(self._target.host, self._target.port, keepalive=30)
        except OSError as exc:
            raise BrokerAdminError(
                f"cannot reach the broker at {self._target.host}:{self._target.port}: {exc}"
            ) from exc
        self._client.loop_start()
        if not self._connected.wait(self._timeout_s) or self._refused:
            self._stop()
            raise BrokerAdminError(
                f"the broker refused the admin login {self._target.username!r}:"
                f" {self._refused or 'no answer'}"
            )
        self._client.subscribe(RESPONSE_TOPIC, qos=1)
        if not self._subscribed.wait(self._timeout_s):
            self._stop()
            raise BrokerAdminError("the broker did not let the admin read control responses")
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    # -- paho callbacks (paho's thread) ---------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._refused = str(reason)
        self._connected.set()

    def _on_subscribe(self, client: Any, userdata: Any, mid: Any, codes: Any, props: Any) -> None:
        if all(not code.is_failure for code in codes):
            self._subscribed.set()

    def _on_message(self, client: Any, userdata: Any, msg: paho.MQTTMessage) -> None:
        try:
            responses = json.loads(msg.payload)["responses"]
        except (ValueError, KeyError, TypeError):
            return
        with self._answered:
            for response in responses:
                key = response.get("correlationData")
                if isinstance(key, str):
                    self._answers.setdefault(key, []).append(response)
            self._answered.notify_all()

    # -- commands -------------------------------------------------------------------------
    def run(
        self, commands: Sequence[dict[str, Any]], *, tolerate: Iterable[str] = ()
    ) -> list[dict[str, Any]]:
        """Send commands (batched) and wait for every answer; raise on an error that is
        not tolerated (e.g. "Client already exists" when making sure something exists)."""
        tolerated = tuple(tolerate)
        answers: list[dict[str, Any]] = []
        for start in range(0, len(commands), COMMANDS_PER_MESSAGE):
            chunk = commands[start : start + COMMANDS_PER_MESSAGE]
            keys = [uuid.uuid4().hex for _ in chunk]
            tagged = [{**c, "correlationData": k} for c, k in zip(chunk, keys, strict=True)]
            self._client.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)
            with self._answered:
                done = self._answered.wait_for(
                    lambda keys=keys: all(k in self._answers for k in keys),  # type: ignore[misc]
                    self._timeout_s,
                )
                if not done:
                    raise BrokerAdminError(
                        "the broker did not answer dynamic-security commands (is the"
                        " dynamic security plugin loaded, and is this its admin login?)"
                    )
                got = [self._answers.pop(k)[0] for k in keys]
            for command, answer in zip(chunk, got, strict=True):
                error = answer.get("error")
                if error and not any(t in error for t in tolerated):
                    subject = command.get("username") or command.get("rolename") or ""
                    raise BrokerAdminError(f"{command['command']} {subject}: {error}")
            answers.extend(got)
        return answers

    def ensure_role(self, rolename: str, acls: Iterable[tuple[str, str]]) -> None:
        """Create a role with these ACLs, or add them to the existing role."""
        wanted = _acls(acls)
        self.run([{"command": "createRole", "rolename": rolename}], tolerate=("already exists",))
        self.run(
            [{"command": "addRoleACL", "rolename": rolename, **acl} for acl in wanted],
            tolerate=("already exists",),
        )

    def ensure_client(self, username: str, password: str, roles: Sequence[str]) -> None:
        """Create a login with these roles, or set its password and add the roles."""
        answer = self.run(
            [{"command": "createClient", "username": username, "password": password,
              "roles": [{"rolename": r} for r in roles]}],
            tolerate=("already exists",),
        )[0]  # fmt: skip
        if answer.get("error"):
            self.run([{"command": "setClientPassword", "username": username, "password": password}])
            (found,) = self.run([{"command": "getClient", "username": username}])
            client = found.get("data", {}).get("client", {})
            has = {r.get("rolename") for r in client.get("roles", [])}
            self.run([{"command": "addClientRole", "username": username, "rolename": r}
                      for r in roles if r not in has])  # fmt: skip

    def init(self, ingest: tuple[str, str], simulator: tuple[str, str] | None = None) -> None:
        """The service logins: ingest (and the simulator's, for test and demo setups)."""
        self.run([{"command": "setDefaultACLAccess", "acls": [
            {"acltype": "publishClientSend", "allow": False},
            {"acltype": "publishClientReceive", "allow": True},
            {"acltype": "subscribe", "allow": False},
            {"acltype": "unsubscribe", "allow": True},
        ]}])  # fmt: skip
        self.ensure_role(INGEST_ROLE, INGEST_ACLS)
        self.ensure_client(ingest[0], ingest[1], [INGEST_ROLE])
        if simulator is not None:
            self.ensure_role(SIMULATOR_ROLE, SIMULATOR_ACLS)
            self.ensure_client(simulator[0], simulator[1], [SIMULATOR_ROLE])

    def issue(self, device_ids: Sequence[str]) -> list[Credential]:
        """New logins with random passwords for devices that have none; an existing one is
        an error (rotate it instead)."""
        creds = [Credential(d, new_secret()) for d in device_ids]
        self.create_devices(creds)
        return creds

    def create_devices(self, creds: Sequence[Credential]) -> None:
        """Logins with the given passwords (issue() draws them; tests choose their own)."""
        commands: list[dict[str, Any]] = []
        for cred in creds:
            role = device_role(cred.device_id)
            commands.append({"command": "createRole", "rolename": role,
                             "acls": device_acls(cred.device_id)})  # fmt: skip
            commands.append({"command": "createClient", "username": cred.device_id,
                             "clientid": cred.device_id, "password": cred.password,
                             "roles": [{"rolename": role}]})  # fmt: skip
        self.run(commands, tolerate=("Role already exists",))

    def rotate(self, device_ids: Sequence[str]) -> list[Credential]:
        """A new password for each device; the old one stops working at once."""
        creds = [Credential(d, new_secret()) for d in device_ids]
        self.run([{"command": "setClientPassword", "username": c.device_id,
                   "password": c.password} for c in creds])  # fmt: skip
        return creds

    def revoke(self, device_ids: Sequence[str]) -> None:
        """Delete each device's login and role (a connected device is disconnected)."""
        commands: list[dict[str, Any]] = []
        for device_id in device_ids:
            commands.append({"command": "deleteClient", "username": device_id})
            commands.append({"command": "deleteRole", "rolename": device_role(device_id)})
        self.run(commands, tolerate=("Role not found",))
