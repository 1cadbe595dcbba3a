"""The house's floors (DESIGN.md): data flows one way and a lower stage never imports a
higher one; the pure cores import no I/O library. A new import that breaks this fails here,
naming the file and the import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What each package may import of the others. `eldercare` (the command line, the demo, the
# one-process stack) and `benchmarks` stand on top and may import anything.
MAY_IMPORT = {
    "core": set(),
    "storage": {"core"},
    "ingest": {"core", "storage"},
    "detectors": {"core", "storage", "ingest"},  # ingest: the wire decoder, for replays
    "alerts": {"core", "storage", "detectors"},
    "api": {"core", "storage", "detectors", "alerts"},
    "simulators": {"core", "ingest"},
}
OURS = {*MAY_IMPORT, "eldercare", "benchmarks"}
IO_LIBRARIES = {"asyncpg", "aiohttp", "paho", "aiosmtplib", "nats"}
# The I/O shells around the pure cores: the only modules there that may do I/O.
IO_SHELLS = {
    "detectors": {"service.py", "committed_feed.py"},
    "alerts": {
        "apply.py", "callbacks.py", "dispatcher.py", "follower.py", "notify.py",
        "runtime.py", "service.py", "sweeper.py", "channels",
    },
}  # fmt: skip


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module.split(".")[0]))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name.split(".")[0]) for alias in node.names)
    return found


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_no_stage_imports_a_higher_one(package: str) -> None:
    allowed = MAY_IMPORT[package] | {package}
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {top}"
        for path in sorted((ROOT / package).rglob("*.py"))
        for line, top in _imports(path)
        if top in OURS and top not in allowed
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", ["core", "detectors", "alerts"])
def test_pure_cores_do_no_io(package: str) -> None:
    shells = IO_SHELLS.get(package, set())
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {top}"
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.relative_to(ROOT / package).parts[0] not in shells
        for line, top in _imports(path)
        if top in IO_LIBRARIES
    ]
    assert not wrong, "\n".join(wrong)
