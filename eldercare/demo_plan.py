"""The demo's plan, kept between runs so a second run resumes the same simulated homes.

The simulation is deterministic given its start date and schedule; saving those (in the
data directory, next to the embedded database) lets the next run continue the same
story from the last reading stored, instead of starting a different one over it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

SIMULATED_DAYS_AHEAD = 14  # how far past the first live moment the simulation reaches


@dataclass(frozen=True, slots=True)
class DemoPlan:
    """What the demo simulates: which homes, and from which moment they run live."""

    homes: int
    seed: int
    backfill_days: int
    timezone: str
    first_live_from: datetime  # UTC; history before it, the scheduled incidents after

    def usable_at(self, now: datetime) -> bool:
        """True while the simulation still reaches a day past `now`."""
        return now < self.first_live_from + timedelta(days=SIMULATED_DAYS_AHEAD - 1)

    def same_homes(self, other: DemoPlan) -> bool:
        return (self.homes, self.seed, self.backfill_days, self.timezone) == (
            other.homes, other.seed, other.backfill_days, other.timezone,
        )  # fmt: skip


def load_plan(path: Path) -> DemoPlan | None:
    """The saved plan, or None if there is none or it cannot be read."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        data["first_live_from"] = datetime.fromisoformat(data["first_live_from"])
        return DemoPlan(**data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def save_plan(path: Path, plan: DemoPlan) -> None:
    """Write the plan for the next run."""
    data = asdict(plan) | {"first_live_from": plan.first_live_from.isoformat()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


class PlanConflict(Exception):
    """The data directory holds another demo than the one asked for."""


def check_same_demo(saved: DemoPlan | None, wanted: DemoPlan, where: Path) -> None:
    """Refuse, with what to do, a demo of other homes over a directory that holds one:
    its homes, people and readings would mix with the new ones."""
    if saved is None or saved.same_homes(wanted):
        return
    raise PlanConflict(
        f"{where} holds the demo of {saved.homes} homes (seed {saved.seed}, "
        f"{saved.backfill_days} days of history); run `eldercare demo --homes {saved.homes} "
        f"--seed {saved.seed} --backfill-days {saved.backfill_days}` to go on with it, or "
        "set ELDERCARE_DATA_DIR to an empty directory (or delete this one) for a new demo"
    )


def choose_plan(saved: DemoPlan | None, wanted: DemoPlan, now: datetime) -> tuple[DemoPlan, bool]:
    """The saved plan if it fits what is asked and is still current, else the new one;
    and whether it is a resumption."""
    if saved is not None and saved.same_homes(wanted) and saved.usable_at(now):
        return saved, True
    return wanted, False
