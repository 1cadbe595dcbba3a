"""Detectors: rules, learned per-home routines and absence timers (pure code, no I/O).

The engine takes readings and clock ticks and returns findings; the baseline is
fitted by a plain function a service may run in a worker pool.
"""

from detectors.baseline import Baseline, fit_baseline
from detectors.engine import Engine
from detectors.findings import Finding
from detectors.settings import EngineSettings, HomeSettings

__all__ = ["Baseline", "Engine", "EngineSettings", "Finding", "HomeSettings", "fit_baseline"]
