"""Log lines: one record a line whatever a value holds; JSON for log shippers."""

from __future__ import annotations

import json
import logging
import pickle
import shlex
import subprocess
import sys
from collections.abc import Iterator

import pytest

from core.logs import JsonFormatter, TextFormatter, configure_logging, kv

FORGED = "x\n2025-01-01 00:00:00,000 ERROR eldercare forged_event admin=true"


def _record(msg: object, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("boom\nsecond line")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("eldercare.test", logging.WARNING, __file__, 1, msg, args, exc_info)


def test_a_value_with_a_newline_or_quote_cannot_forge_a_line_or_a_field() -> None:
    line = kv("login_failed", user=FORGED, note='say "hi"', plain="ok", empty="")
    assert "\n" not in line
    # A logfmt reader (shell-like quoting) gets back exactly the fields that were logged.
    words = shlex.split(line)
    assert words[0] == "login_failed"
    fields = dict(word.split("=", 1) for word in words[1:])
    assert set(fields) == {"user", "note", "plain", "empty"}
    assert fields["note"] == 'say "hi"' and fields["plain"] == "ok" and fields["empty"] == ""
    assert fields["user"] == FORGED.replace("\n", "\\n")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("simple", "simple"),
        ("two words", '"two words"'),
        ("a=b", '"a=b"'),
        ('quo"te', '"quo\\"te"'),
        ("back\\slash", '"back\\\\slash"'),
        ("tab\there", '"tab\\there"'),
        ("cr\rlf", '"cr\\rlf"'),
        ("bell\x07", '"bell\\u0007"'),
        ("line\u2028sep", '"line\\u2028sep"'),
        (3.5, "3.5"),
        (None, "None"),
        ("老人", "老人"),
    ],
)
def test_values_are_quoted_and_escaped_only_when_needed(value: object, shown: str) -> None:
    assert kv("e", v=value) == f"e v={shown}"


def test_text_lines_escape_library_messages_and_indent_tracebacks() -> None:
    formatter = TextFormatter()
    from_library = formatter.format(_record("peer said %s", FORGED))
    assert len(from_library.splitlines()) == 1 and "forged_event" in from_library
    ours = formatter.format(_record(kv("send_failed", reason=FORGED), exc=True))
    first, *rest = ours.splitlines()
    assert "WARNING eldercare.test send_failed reason=" in first
    assert rest and all(line.startswith("    ") for line in rest)  # the traceback, indented
    assert any("ValueError: boom" in line for line in rest)


def test_json_lines_carry_the_same_fields_with_their_types() -> None:
    formatter = JsonFormatter()
    line = formatter.format(_record(kv("batch_committed", rows=12, seconds=0.25, ok=True,
                                       device=FORGED, level="x")))  # fmt: skip
    assert "\n" not in line
    record = json.loads(line)
    assert record["level"] == "WARNING" and record["logger"] == "eldercare.test"
    assert record["ts"].endswith("+00:00")
    assert record["event"] == "batch_committed"
    assert (record["rows"], record["seconds"], record["ok"]) == (12, 0.25, True)
    assert record["device"] == FORGED  # exact, escaped only by JSON itself
    assert record["level_"] == "x"  # a field never overwrites the record's own keys
    library = json.loads(formatter.format(_record("peer said %s", FORGED, exc=True)))
    assert library["message"] == f"peer said {FORGED}" and "event" not in library
    assert "ValueError: boom" in library["exc"]


def test_kv_messages_survive_pickling_with_their_fields() -> None:
    message = kv("e", a=1)
    again = pickle.loads(pickle.dumps(message))
    assert again == "e a=1" and again.fields == {"a": 1}  # type: ignore[attr-defined]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_configure_logging_refuses_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="log format"):
        configure_logging("INFO", "xml")


def test_the_command_line_logs_json_when_asked() -> None:
    """A real process: ELDERCARE_LOG_FORMAT=json gives one JSON object per stderr line."""
    code = (
        "import logging, sys; from core.logs import kv; from eldercare.cli import main;"
        "import eldercare.commands.db as db;"
        "db.run_migrate = lambda a, s: logging.getLogger('eldercare').info("
        "kv('hello', text='two\\nlines')) or 0;"
        "sys.exit(main(['db', 'migrate']))"
    )
    env = {"ELDERCARE_LOG_FORMAT": "json", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60, check=True)  # fmt: skip
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert json.loads(lines[0])["text"] == "two\nlines"
    bad = subprocess.run([sys.executable, "-m", "eldercare", "--help"],
                         env={**env, "ELDERCARE_LOG_FORMAT": "xml"}, capture_output=True,
                         text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 0  # --help needs no valid settings
    worse = subprocess.run([sys.executable, "-m", "eldercare", "db", "migrate"],
                           env={**env, "ELDERCARE_LOG_FORMAT": "xml"}, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert worse.returncode == 2 and "ELDERCARE_LOG_FORMAT: must be text or json" in worse.stderr
