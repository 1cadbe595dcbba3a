"""Many homes silent at once: one event for the street, not one finding per home.

When a home goes silent (every device past its own reporting interval) while the
pipeline's heartbeat shows it delivering, the cause is at the home: its power or its
network. When several homes of one street (or of the whole deployment, for homes without
a street) go silent within minutes of each other, the cause is the street's: a power or
network cut. That is said once, for the group ("9 homes in Xingfu street silent since
14:02"), and grows as more homes join it; each home gets an informative note, and no
home's absence rules speak while it cannot be seen into.
"""

from __future__ import annotations

from typing import Any

from core.kinds import Category, Severity
from detectors.devices import home_silent_finding
from detectors.findings import Finding, finding_at
from detectors.localtime import duration_text
from detectors.pipeline import SYSTEM_HOME_ID
from detectors.state import HomeState

GROUP_KIND = "homes_silent"


class GroupSilence:
    """Silent homes per group (mutable, owned by the engine)."""

    __slots__ = ("_homes", "min_homes", "open", "window_s")

    def __init__(self, window_s: float, min_homes: int) -> None:
        self.window_s = window_s
        self.min_homes = min_homes
        self._homes: dict[str, list[HomeState]] = {}
        # group → [since, [home ids silent in it]] while a group finding is open
        self.open: dict[str, list[Any]] = {}

    def add(self, home: HomeState) -> None:
        """Register a home under its group."""
        self._homes.setdefault(home.group, []).append(home)

    def silent(self, home: HomeState, now: float, out: list[Finding]) -> None:
        """`home` has just gone silent: alone, or with its street."""
        home.home_silent_reported = True
        group = home.group
        event = self.open.get(group)
        if event is not None and home.last_arrival - event[0] > self.window_s:
            event = None  # a silence of its own, long after the street's began
            out.append(home_silent_finding(home, now))
            return
        if event is None:
            # Homes of the group whose last message came within the window of this one's
            # and that are silent too (reported, or overdue by their own measure).
            start = home.last_arrival
            members = [
                h
                for h in self._homes.get(group, ())
                if h is not home
                and abs(h.last_arrival - start) <= self.window_s
                and (h.home_silent_reported or now - h.last_arrival >= h.silent_after_s)
                and not h.group_silent
            ]
            if len(members) + 1 < self.min_homes:
                out.append(home_silent_finding(home, now))
                return
            since = min(h.last_arrival for h in [home, *members])
            event = self.open[group] = [since, [], 0]
            for member in members:
                self._join(member, event, now, out)
        self._join(home, event, now, out)
        if len(event[1]) >= 2 * event[2]:  # said when it starts, again as it doubles
            event[2] = len(event[1])
            out.append(self._finding(group, now))

    def _join(self, home: HomeState, event: list[Any], now: float, out: list[Finding]) -> None:
        if home.home_silent_reported and not home.group_silent and home.home_id in event[1]:
            return
        home.home_silent_reported = True
        home.group_silent = True
        event[1].append(home.home_id)
        out.append(
            finding_at(
                home.home_id,
                Category.DEVICE,
                "home_silent",
                Severity.INFO,
                now,
                f"no device heard since {home.clock.clock_text(home.last_arrival)}, with "
                f"other homes of {self._name(home.group)}: power or network cut there?",
                params={
                    "variant": "group",
                    "since_at": round(home.last_arrival),
                    "street": home.group,
                },
            )
        )

    def back(self, home: HomeState, at: float, out: list[Finding]) -> None:
        """A home of a silent group is heard again; the group's finding clears with the
        last of them."""
        event = self.open.get(home.group)
        if event is None:
            return
        if home.home_id in event[1]:
            event[1].remove(home.home_id)
        if len(event[1]) < self.min_homes:
            # Too few left to be the street's event: those still silent are their own.
            del self.open[home.group]
            for other in self._homes.get(home.group, ()):
                if other.group_silent and other.home_id in event[1]:
                    other.group_silent = False
                    out.append(home_silent_finding(other, at))
            out.append(
                finding_at(
                    SYSTEM_HOME_ID,
                    Category.DEVICE,
                    GROUP_KIND,
                    Severity.INFO,
                    at,
                    f"homes of {self._name(home.group)} heard again after "
                    f"{duration_text(at - event[0])}",
                    clears=True,
                    params={"street": home.group, "silent_s": round(at - event[0])},
                )
            )

    def _finding(self, group: str, now: float) -> Finding:
        since, homes, _ = self.open[group]
        members = self._homes.get(group, [])
        clock = members[0].clock if members else None
        when = clock.clock_text(since) if clock is not None else ""
        return finding_at(
            SYSTEM_HOME_ID,
            Category.DEVICE,
            GROUP_KIND,
            Severity.MEDIUM,
            now,
            f"{len(homes)} homes in {self._name(group)} silent since {when} "
            f"({', '.join(sorted(homes)[:12])}{'…' if len(homes) > 12 else ''}): "
            "power or network cut?",
            params={
                "count": len(homes),
                "street": group,
                "since_at": round(since),
                "homes": ", ".join(sorted(homes)[:12]) + ("…" if len(homes) > 12 else ""),
            },
        )

    @staticmethod
    def _name(group: str) -> str:
        return f"{group} street" if group else "this deployment"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return {group: [v[0], list(v[1]), v[2]] for group, v in self.open.items()}

    def restore(self, data: dict[str, Any]) -> None:
        """Load `to_dict` output."""
        self.open = {group: [float(v[0]), list(v[1]), int(v[2])] for group, v in data.items()}
