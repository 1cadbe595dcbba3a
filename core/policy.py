"""Escalation policies: who is told at each step, and when. Pure values and JSON forms.

Policies are named by severity, plus `system` for our own problems (a resident is never
called about a failed SMS). The built-in defaults below apply unless a stored policy
replaces one (table alert_policies; `eldercare alerts policy set`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from core.alerts import Alert
from core.contacts import Role
from core.kinds import Category, Severity

POLICY_NAMES = (*(s.value for s in Severity), "system")
MAX_STEPS = 10
MAX_DELAY_S = 7 * 24 * 3600


class PolicyError(ValueError):
    """A policy document that cannot be used; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """One step: the roles told, `after_s` seconds after the previous step.

    A step whose roles include the resident places the check-in call; an answer of
    "help" or no answer brings the next step forward to that moment.
    """

    after_s: int
    roles: tuple[Role, ...]
    digest: bool = False  # into the recipients' next digest rather than at once

    def __post_init__(self) -> None:
        if not 0 <= self.after_s <= MAX_DELAY_S:
            raise PolicyError(f"after_s must be between 0 and {MAX_DELAY_S}")
        if not self.roles:
            raise PolicyError("a step needs at least one role")
        if len(set(self.roles)) != len(self.roles):
            raise PolicyError("a step lists a role twice")

    @property
    def calls_resident(self) -> bool:
        """True when this step places the check-in call."""
        return Role.RESIDENT in self.roles


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """The steps for one severity, and the timers after acknowledgement.

    `resolve_within_s`: an acknowledged alert not resolved this long after its
    acknowledgement (or its helper's arrival) resumes escalation; None never does.
    `arrival_grace_s`: a claimed alert whose helper has not arrived this long after the
    expected time resumes escalation.
    """

    steps: tuple[EscalationStep, ...]
    resolve_within_s: int | None = None
    arrival_grace_s: int = 15 * 60

    def __post_init__(self) -> None:
        if len(self.steps) > MAX_STEPS:
            raise PolicyError(f"at most {MAX_STEPS} steps")
        if self.resolve_within_s is not None and not 60 <= self.resolve_within_s <= MAX_DELAY_S:
            raise PolicyError(f"resolve_within_s must be between 60 and {MAX_DELAY_S}")
        if not 0 <= self.arrival_grace_s <= MAX_DELAY_S:
            raise PolicyError(f"arrival_grace_s must be between 0 and {MAX_DELAY_S}")


def policy_name_for(alert: Alert) -> str:
    """Which policy governs an alert: `system` for our own problems, else its severity."""
    return "system" if alert.category is Category.SYSTEM else alert.severity.value


_ALL_AT_ONCE = (
    Role.RESIDENT,
    Role.PRIMARY_ADVISOR,
    Role.BACKUP_ADVISOR,
    Role.SUPERVISOR,
    Role.FAMILY,
    Role.EMERGENCY,
)

DEFAULT_POLICIES: Mapping[str, EscalationPolicy] = MappingProxyType(
    {
        # Smoke: everyone at once, the resident's call included.
        "critical": EscalationPolicy(
            steps=(EscalationStep(0, _ALL_AT_ONCE),), resolve_within_s=30 * 60
        ),
        # Check-in call first; no answer within 5 minutes (or "help") pages the advisor;
        # 15 minutes unacknowledged adds the backup and family; 30 the supervisor.
        "high": EscalationPolicy(
            steps=(
                EscalationStep(0, (Role.RESIDENT,)),
                EscalationStep(5 * 60, (Role.PRIMARY_ADVISOR,)),
                EscalationStep(15 * 60, (Role.BACKUP_ADVISOR, Role.FAMILY)),
                EscalationStep(15 * 60, (Role.SUPERVISOR,)),
            ),
            resolve_within_s=60 * 60,
        ),
        "medium": EscalationPolicy(
            steps=(
                EscalationStep(0, (Role.PRIMARY_ADVISOR,)),
                EscalationStep(2 * 3600, (Role.BACKUP_ADVISOR,)),
                EscalationStep(4 * 3600, (Role.SUPERVISOR,)),
            ),
            resolve_within_s=24 * 3600,
        ),
        "low": EscalationPolicy(steps=(EscalationStep(0, (Role.PRIMARY_ADVISOR,), digest=True),)),
        "info": EscalationPolicy(steps=()),
        "system": EscalationPolicy(
            steps=(
                EscalationStep(0, (Role.OPERATIONS,)),
                EscalationStep(30 * 60, (Role.SUPERVISOR,)),
            ),
            resolve_within_s=4 * 3600,
        ),
    }
)


def policy_to_json(policy: EscalationPolicy) -> dict[str, Any]:
    """The JSON document form of a policy (what `policy show` prints and `set` reads)."""
    return {
        "steps": [
            {"after_s": s.after_s, "roles": [r.value for r in s.roles], "digest": s.digest}
            for s in policy.steps
        ],
        "resolve_within_s": policy.resolve_within_s,
        "arrival_grace_s": policy.arrival_grace_s,
    }


def policy_from_json(obj: Any) -> EscalationPolicy:
    """Parse and check a policy document; PolicyError says what is wrong."""
    if not isinstance(obj, dict):
        raise PolicyError("a policy is a JSON object")
    unknown = set(obj) - {"steps", "resolve_within_s", "arrival_grace_s"}
    if unknown:
        raise PolicyError(f"unknown field(s): {', '.join(sorted(unknown))}")
    steps_obj = obj.get("steps")
    if not isinstance(steps_obj, list):
        raise PolicyError("steps must be a list")
    steps = tuple(_step_from_json(i, s) for i, s in enumerate(steps_obj))
    resolve_within_s = obj.get("resolve_within_s")
    if resolve_within_s is not None and not _is_int(resolve_within_s):
        raise PolicyError("resolve_within_s must be an integer or null")
    arrival_grace_s = obj.get("arrival_grace_s", 15 * 60)
    if not _is_int(arrival_grace_s):
        raise PolicyError("arrival_grace_s must be an integer")
    return EscalationPolicy(steps, resolve_within_s, arrival_grace_s)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _step_from_json(index: int, obj: Any) -> EscalationStep:
    if not isinstance(obj, dict) or set(obj) - {"after_s", "roles", "digest"}:
        raise PolicyError(f"step {index}: expected {{after_s, roles, digest}}")
    after_s = obj.get("after_s", 0)
    if not _is_int(after_s):
        raise PolicyError(f"step {index}: after_s must be an integer")
    roles_obj = obj.get("roles")
    if not isinstance(roles_obj, list):
        raise PolicyError(f"step {index}: roles must be a list")
    try:
        roles = tuple(Role(r) for r in roles_obj)
    except ValueError:
        names = ", ".join(r.value for r in Role)
        raise PolicyError(f"step {index}: roles must be among {names}") from None
    digest = obj.get("digest", False)
    if not isinstance(digest, bool):
        raise PolicyError(f"step {index}: digest must be true or false")
    try:
        return EscalationStep(after_s, roles, digest)
    except PolicyError as exc:
        raise PolicyError(f"step {index}: {exc}") from None
