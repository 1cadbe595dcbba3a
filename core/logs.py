"""Structured logging: ids and counts, never a resident's details; one record a line,
as `key=value` text or as JSON for log shippers."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("text", "json")
# Characters that would break a key=value line or let a value pose as a record of its own.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# Keys every JSON record carries; a field of the same name is written with a trailing _.
_RECORD_KEYS = frozenset({"ts", "level", "logger", "event", "message", "exc"})


class KvMessage(str):
    """A log message `event key=value ...` that keeps its event and fields for JSON."""

    event: str
    fields: dict[str, Any]

    def __new__(cls, event: str, fields: dict[str, Any]) -> KvMessage:
        """Render the line once; keep the parts for the JSON formatter."""
        text = " ".join([event, *(f"{key}={_kv_value(value)}" for key, value in fields.items())])
        message = super().__new__(cls, text)
        message.event, message.fields = event, fields
        return message

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle as the event and fields it was made of (str's own way would lose them)."""
        return (KvMessage, (self.event, self.fields))


def _escape(text: str) -> str:
    """Backslash-escape quotes, backslashes and every control character."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch < " " or "\x7f" <= ch <= "\x9f" or ch in "\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _kv_value(value: Any) -> str:
    text = str(value)
    escaped = _escape(text)
    # Quoted when empty, when it has a space or '=', or when anything had to be escaped.
    if not text or escaped != text or any(ch in text for ch in " ="):
        return f'"{escaped}"'
    return text


def kv(event: str, **fields: Any) -> str:
    """Format an event and its fields as `event key=value ...` for one log line.

    Values with spaces, quotes, '=' or control characters are quoted and escaped, so a
    value can never end the line or pose as another field.
    """
    return KvMessage(event, fields)


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    return str(value)


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message`; the message's line breaks escaped, a traceback's lines
    indented beneath it, so every line that starts at column 0 is a record of its own."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The record's line, with whatever a library put in its message escaped."""
        line = super().formatMessage(record)
        return line if isinstance(record.msg, KvMessage) else _escape_breaks(line)

    def formatException(self, ei: Any) -> str:
        """The traceback, each line indented."""
        return _indent(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        """The stack, each line indented."""
        return _indent(stack_info)


def _escape_breaks(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, then event and its fields (or the
    message of a record not written with kv), and exc with a traceback if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        if isinstance(record.msg, KvMessage) and not record.args:
            out["event"] = record.msg.event
            for key, value in record.msg.fields.items():
                out[f"{key}_" if key in _RECORD_KEYS else key] = _json_value(value)
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        # ensure_ascii: the line stays ASCII whatever a value holds (and \u2028 cannot split it).
        return json.dumps(out, ensure_ascii=True)


def configure_logging(level: str, log_format: str = "text") -> None:
    """Send logs to stderr, one record a line: text (time, level, logger, key=value
    record) or JSON."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {LOG_FORMATS}, got {log_format!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # The embedded broker's state machine narrates every transition at INFO, and the
    # embedded PostgreSQL logs initdb's whole output at INFO.
    for chatty in ("transitions", "amqtt", "pgserver"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # asyncpg's pools log a 35-line traceback at every retry of their connection floor
    # while the database is away; each stage already says once that it is away.
    pool_log = logging.getLogger("asyncpg.pool")
    for old in [f for f in pool_log.filters if isinstance(f, DemoteToDebug)]:
        pool_log.removeFilter(old)
    pool_log.addFilter(DemoteToDebug("Failed to restore the pool connection floor"))
    # A connection lost mid-query leaves asyncpg's internal waiter with the error while the
    # query reports its own; asyncio then logs the waiter's as "never retrieved".
    loop_log = logging.getLogger("asyncio")
    for old in [f for f in loop_log.filters if isinstance(f, DemoteToDebug)]:
        loop_log.removeFilter(old)
    loop_log.addFilter(DemoteToDebug("Future exception was never retrieved", ConnectionError))


class DemoteToDebug(logging.Filter):
    """Turns a library's warning that starts with `prefix` (and, given `errors`, carries
    one of them) into a DEBUG record, dropped unless DEBUG is on, traceback and all."""

    def __init__(self, prefix: str, *errors: type[BaseException]) -> None:
        super().__init__()
        self._prefix = prefix
        self._errors = errors

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every other record as it is."""
        if record.levelno <= logging.DEBUG or not record.getMessage().startswith(self._prefix):
            return True
        if self._errors:
            error = record.exc_info[1] if record.exc_info else None
            if not isinstance(error, self._errors):
                return True
        if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return False
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def quiet_for_people(level: str) -> None:
    """The demo's terminal is for a person: no line per HTTP request, and the embedded
    broker's warnings about clients hanging up (the console's event streams do) kept
    back, unless the log level asks for debugging."""
    if logging.getLevelName(level) <= logging.DEBUG:
        return
    logging.getLogger("eldercare.api.access").setLevel(logging.WARNING)
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
