"""Simulated homes: an older person's daily routine, the devices that observe it, scripted
incidents with ground truth, and record mode (files) for tests, demos and benchmarks.

Public API (see `simulators.record`): `simulate_homes(...) -> Simulation`, whose
`registry()`, `truth()` and `absences()` give the registry rows, the ground truth and the
multi-day absences, and whose `messages()`, `encoded_messages()` and `cursor()` give the
messages in timestamp order, computed lazily home by home and day by day; and
`write_recording(simulation, out_dir)` for record mode.

Import from the submodules (`simulators.record`, …) where an editable install made before
this package had an `__init__.py` still treats `simulators` as a namespace package.
"""

from simulators.incidents import IncidentKind, IncidentRates
from simulators.record import (
    DEFAULT_START,
    DEFAULT_TIMEZONE,
    MessageCursor,
    RecordingStats,
    RegistryRow,
    Simulation,
    SimulationConfig,
    simulate_homes,
    write_recording,
)
from simulators.truth import Absence, TruthRecord

__all__ = [
    "DEFAULT_START",
    "DEFAULT_TIMEZONE",
    "Absence",
    "IncidentKind",
    "IncidentRates",
    "MessageCursor",
    "RecordingStats",
    "RegistryRow",
    "Simulation",
    "SimulationConfig",
    "TruthRecord",
    "simulate_homes",
    "write_recording",
]
