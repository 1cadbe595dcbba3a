"""CSV that a spreadsheet cannot turn into a formula (OWASP "CSV Injection"): every CSV
the system writes goes through `csv_writer`.

A text cell starting with = + - @, a tab or a carriage return is written with a leading
apostrophe, which spreadsheet programs take as "this is text" and do not show. A text
that itself starts with an apostrophe gets one more, so `original_cell` gives back
exactly what was written (the registry CSV is read back by `devices import`). Numbers
are written as they are: -3.5 is a number, not a formula.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"
_MARKED = (*FORMULA_STARTS, TEXT_MARK)


def safe_cell(value: Any) -> Any:
    """`value` as it may go into a CSV cell."""
    if isinstance(value, str) and value.startswith(_MARKED):
        return TEXT_MARK + value
    return value


def original_cell(text: str) -> str:
    """What `safe_cell` was given, from the text it wrote."""
    if text.startswith(TEXT_MARK) and text[1:].startswith(_MARKED):
        return text[1:]
    return text


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


class SafeWriter:
    """csv.writer whose every text cell went through `safe_cell`."""

    def __init__(self, out: _Writable, **options: Any) -> None:
        self._writer = csv.writer(out, **options)

    def writerow(self, row: Iterable[Any]) -> None:
        """Write one row."""
        self._writer.writerow([safe_cell(value) for value in row])


def csv_writer(out: _Writable, **options: Any) -> SafeWriter:
    """A CSV writer over `out` (csv.writer's options) that neutralises formulas."""
    return SafeWriter(out, **options)
