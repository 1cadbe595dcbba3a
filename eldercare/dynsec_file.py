"""Device logins written straight into the dynamic security plugin's JSON file, for a
whole fleet in one pass while the broker is stopped.

Mosquitto 2.0.11's plugin rewrites its whole file after every control command, so
issuing through the control API (eldercare/broker_admin.py) costs the square of the
fleet. Here the file is read once, every device's role and client appended, and written
once (a new file renamed over the old): linear. The broker reads it when it starts.

A client's password is stored as the plugin stores it: "password" is the base64 of
PBKDF2-HMAC-SHA512(password, salt, iterations) (64 bytes), "salt" the base64 of 12
random bytes, "iterations" 101 (the plugin's default).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eldercare.broker_admin import Credential, device_acls, device_role

SALT_BYTES = 12  # the plugin's salt length
ITERATIONS = 101  # the plugin's default (PW_DEFAULT_ITERATIONS)


class DynsecFileError(RuntimeError):
    """The file is not a dynamic security config, or already has one of the logins."""


def password_fields(
    password: str, salt: bytes | None = None, iterations: int = ITERATIONS
) -> dict[str, Any]:
    """A client's "password", "salt" and "iterations", as the plugin writes them."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return {
        "password": base64.b64encode(digest).decode("ascii"),
        "salt": base64.b64encode(salt).decode("ascii"),
        "iterations": iterations,
    }


def _load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DynsecFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        config = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DynsecFileError(f"{path} is not JSON: {exc}") from exc
    if not isinstance(config, dict) or not isinstance(config.get("clients"), list):
        raise DynsecFileError(
            f"{path} is not a dynamic security config (no clients; make one with"
            " `mosquitto_ctrl dynsec init`)"
        )
    config.setdefault("roles", [])
    return config


def add_devices(path: Path, creds: Sequence[Credential]) -> None:
    """Append each device's login and role to the plugin's file (broker stopped).

    A device that already has a login, or a role of that name, is an error and nothing
    is written (rotate it through the running broker instead).
    """
    config = _load(path)
    users = {c.get("username") for c in config["clients"]}
    roles = {r.get("rolename") for r in config["roles"]}
    taken = next((c.device_id for c in creds if c.device_id in users
                  or device_role(c.device_id) in roles), None)  # fmt: skip
    if taken is not None:
        raise DynsecFileError(f"{path} already has a login for {taken!r}; nothing written")
    for cred in creds:
        role = device_role(cred.device_id)
        config["roles"].append({"rolename": role, "acls": device_acls(cred.device_id)})
        config["clients"].append({"username": cred.device_id, "clientid": cred.device_id,
                                  "roles": [{"rolename": role}],
                                  **password_fields(cred.password)})  # fmt: skip
    _replace(path, json.dumps(config, indent=1))


def _replace(path: Path, text: str) -> None:
    """Write a new file beside the old one, with its mode and owner, and rename it over:
    a crash leaves the old file or the new one, never half of one."""
    before = path.stat()
    fresh = path.with_name(path.name + ".new")
    with open(fresh, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(fresh, before.st_mode & 0o7777)
    with contextlib.suppress(PermissionError):  # only root can give it away
        os.chown(fresh, before.st_uid, before.st_gid)
    os.replace(fresh, path)
