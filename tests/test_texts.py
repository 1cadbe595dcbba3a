"""Every text a person sees exists in both languages: the server's catalogue of finding
explanations (core/explain.py) covers every kind the detectors and the alert stage can
raise, and the console's dictionaries (api/static/js/i18n.js) have the same keys in
Chinese and English, including every key the console's code asks for and every value of
the families it labels (kinds, actions, outcomes, rooms, roles...)."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from alerts.checkin import CheckinResult
from core import explain
from core.alerts import Action, AlertState, Outcome
from core.contacts import Language
from core.kinds import Category, Severity
from core.outbox import DeliveryStatus

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "api" / "static" / "js"
RAISERS = {"finding_at", "Finding", "raise_problem"}


def _kind_constants(trees: list[ast.Module]) -> dict[str, str]:
    """Module constants named *_KIND, across the modules (they are imported around)."""
    return {
        target.id: node.value.value
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id.endswith("_KIND")
    }


def _kinds_in(tree: ast.Module, constants: dict[str, str]) -> set[str]:
    """Kinds passed to finding_at/Finding/raise_problem in one module: a literal, a
    *_KIND constant, or the literals a name is given in the same function."""
    found: set[str] = set()
    for func in [
        n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
    ]:
        for call in [n for n in ast.walk(func) if isinstance(n, ast.Call)]:
            name = getattr(call.func, "id", getattr(call.func, "attr", None))
            if name not in RAISERS:
                continue
            index = 2  # (home_id, category, kind, ...) and (conn, home_id, kind, ...)
            arg = next((k.value for k in call.keywords if k.arg == "kind"), None)
            if arg is None and len(call.args) > index:
                arg = call.args[index]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
            elif isinstance(arg, ast.Name):
                if arg.id in constants:
                    found.add(constants[arg.id])
                    continue
                # The literals this function gives the name: `kind = "x"`, `kind == "x"`,
                # `(due, "x")` candidates, `a or "x"`.
                for node in ast.walk(func):
                    if (
                        isinstance(node, ast.Constant)
                        and isinstance(node.value, str)
                        and re.fullmatch(r"[a-z]+(_[a-z]+)+", node.value)
                        and _near_kind(func, node)
                    ):
                        found.add(node.value)
    return found


def _near_kind(func: ast.AST, constant: ast.Constant) -> bool:
    """True when the literal is assigned to, compared with, or a candidate for `kind`."""
    for node in ast.walk(func):
        if isinstance(node, ast.Assign | ast.Compare | ast.Tuple | ast.BoolOp | ast.IfExp):
            text = ast.unparse(node)
            if constant in list(ast.walk(node)) and "kind" in text:
                return True
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "append"
            and constant in list(ast.walk(node))
            and any(isinstance(a, ast.Tuple) for a in node.args)
        ):
            return True
    return False


def raised_kinds() -> set[str]:
    """Every finding kind the detectors and the alert stage can raise."""
    paths = [p for folder in ("detectors", "alerts") for p in sorted((ROOT / folder).glob("*.py"))]
    trees = [ast.parse(p.read_text(encoding="utf-8")) for p in paths]
    constants = _kind_constants(trees)
    kinds: set[str] = set()
    for tree in trees:
        kinds |= _kinds_in(tree, constants)
    return kinds


def test_the_scan_finds_the_kinds_it_should() -> None:
    kinds = raised_kinds()
    # Literal, chosen among candidates, a module constant, a kept variable.
    for kind in ("smoke_alarm", "prolonged_bathroom", "no_morning_activity",
                 "delivery_failed", "leak_high_flow", "pipeline_down"):  # fmt: skip
        assert kind in kinds


def test_every_kind_has_a_text_in_both_languages() -> None:
    missing = sorted(k for k in raised_kinds() if k not in explain.TEMPLATES)
    assert missing == [], f"kinds without a text in core/explain.py: {missing}"
    for key, texts in explain.TEMPLATES.items():
        assert set(texts) == set(Language), f"{key} lacks a language"
        placeholders = [set(re.findall(r"\{(\w+)\}", texts[lang])) for lang in Language]
        # in_room is the English way of saying {room}
        norm = [{"room" if p == "in_room" else p for p in ps} for ps in placeholders]
        assert norm[0] == norm[1], f"{key}: the languages fill different params"
    for table in (explain.ROUTINE_FEATURES, explain.ROOMS, explain.DEVICE_TYPES,
                  explain.CHANNELS, explain.CONTACT_ROLES):  # fmt: skip
        for key, texts in table.items():
            assert set(texts) == set(Language), f"{key} lacks a language"


def _console_dictionaries() -> dict[str, dict[str, str]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = (
        f"import('{(JS / 'i18n.js').as_uri()}').then(m => "
        "console.log(JSON.stringify(m.DICTIONARIES)))"
    )
    out = subprocess.run(
        [node, "--input-type=module", "-e", script],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    result: dict[str, dict[str, str]] = json.loads(out.stdout)
    return result


def test_the_console_says_everything_in_both_languages() -> None:
    dicts = _console_dictionaries()
    zh, en = dicts["zh-CN"], dicts["en"]
    assert sorted(set(zh) - set(en)) == [], "keys without English"
    assert sorted(set(en) - set(zh)) == [], "keys without Chinese"
    for lang, words in dicts.items():
        empty = [key for key, text in words.items() if not text.strip()]
        assert empty == [], f"empty texts in {lang}: {empty}"
    # Every key the console's code asks for by name exists.
    used: set[str] = set()
    for path in (p for p in JS.rglob("*.js") if p.name != "i18n.js"):
        used |= set(re.findall(r'\bt\("([a-zA-Z][\w.-]*)"', path.read_text(encoding="utf-8")))
    missing = sorted(k for k in used if k not in zh)
    assert missing == [], f"keys used but never written: {missing}"
    # Every value of the families the console labels.
    families = {
        "kind": {key.split(".")[0] for key in explain.TEMPLATES},
        "action": {a.value for a in Action},
        "outcome": {o.value for o in Outcome},
        "state": {s.value for s in AlertState},
        "sev": {s.value for s in Severity},
        "cat": {c.value for c in Category},
        "contact": set(explain.CONTACT_ROLES),
        "room": set(explain.ROOMS),
        "channel": set(explain.CHANNELS),
        "checkin": {r.value for r in CheckinResult},
        "delivery": {s.value for s in DeliveryStatus},
        "purpose": {"alert", "checkin", "digest", "note", "call"},
        "device": set(explain.DEVICE_TYPES),
    }
    gaps = sorted(f"{fam}.{value}" for fam, values in families.items() for value in values
                  if f"{fam}.{value}" not in zh)  # fmt: skip
    assert gaps == [], f"labels without a text: {gaps}"
