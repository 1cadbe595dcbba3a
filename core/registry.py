"""The registry CSV (DESIGN.md): header `home_id,device_id,type,room[,timezone][,street]`.

Parsing is all-or-nothing: the first bad row raises RegistryError naming its line,
so an import never half-applies a file.
"""

from __future__ import annotations

import csv
import io
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.csv_cells import csv_writer, original_cell
from core.readings import DEVICE_ID_PATTERN, DeviceType

HOME_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
REQUIRED_COLUMNS = ("home_id", "device_id", "type", "room")
MAX_ROOM_CHARS = 64


class RegistryError(ValueError):
    """A registry file or row that cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class RegistryRow:
    """One device in one home, as the registry CSV lists it."""

    home_id: str
    device_id: str
    type: DeviceType
    room: str | None
    timezone: str
    line: int = field(default=0, compare=False)  # where it stood in its file, for errors
    # The home's street (optional `street` column): homes of one street going silent
    # together are one event for the detectors (a power or network cut).
    street: str | None = None

    def __post_init__(self) -> None:
        if not HOME_ID_PATTERN.fullmatch(self.home_id):
            raise ValueError(f"home_id {self.home_id!r} must match [A-Za-z0-9_-]{{1,64}}")
        if not DEVICE_ID_PATTERN.fullmatch(self.device_id):
            raise ValueError(f"device_id {self.device_id!r} must match [A-Za-z0-9_-]{{1,64}}")
        if self.room is not None and len(self.room) > MAX_ROOM_CHARS:
            raise ValueError(f"room is longer than {MAX_ROOM_CHARS} characters")
        if self.street is not None and len(self.street) > MAX_ROOM_CHARS:
            raise ValueError(f"street is longer than {MAX_ROOM_CHARS} characters")
        check_timezone(self.timezone)


def check_timezone(name: str) -> str:
    """Return `name` if it is an IANA time zone, else raise ValueError."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
    return name


def parse_registry_csv(text: str, default_timezone: str) -> list[RegistryRow]:
    """Every row of a registry CSV, or RegistryError for the first bad line."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise RegistryError(f"line 1: header lacks column(s) {', '.join(missing)}")
    rows: list[RegistryRow] = []
    seen: dict[str, int] = {}
    for raw in reader:
        line = reader.line_num
        if None in raw or any(raw.get(c) is None for c in REQUIRED_COLUMNS):
            raise RegistryError(f"line {line}: wrong number of fields")
        # Cells we wrote with a leading apostrophe (core/csv_cells.py) read back as written.
        record = {k: original_cell(v) if isinstance(v, str) else v for k, v in raw.items()}
        try:
            device_type = DeviceType(record["type"].strip())
        except ValueError:
            types = ", ".join(t.value for t in DeviceType)
            raise RegistryError(
                f"line {line}: type {record['type']!r} is not one of {types}"
            ) from None
        device_id = record["device_id"].strip()
        if device_id in seen:
            raise RegistryError(
                f"line {line}: device {device_id!r} already listed on line {seen[device_id]}"
            )
        seen[device_id] = line
        try:
            rows.append(
                RegistryRow(
                    home_id=record["home_id"].strip(),
                    device_id=device_id,
                    type=device_type,
                    room=record["room"].strip() or None,
                    timezone=(record.get("timezone") or "").strip() or default_timezone,
                    line=line,
                    street=(record.get("street") or "").strip() or None,
                )
            )
        except ValueError as exc:
            raise RegistryError(f"line {line}: {exc}") from None
    if not rows:
        raise RegistryError("the file lists no devices")
    return rows


def format_registry_csv(rows: Iterable[RegistryRow]) -> str:
    """Write rows as registry CSV text with the timezone column (and the street column
    when any row has a street)."""
    rows = list(rows)
    streets = any(row.street for row in rows)
    out = io.StringIO()
    writer = csv_writer(out, lineterminator="\n")
    writer.writerow([*REQUIRED_COLUMNS, "timezone", *(["street"] if streets else [])])
    for row in rows:
        fields = [row.home_id, row.device_id, row.type.value, row.room or "", row.timezone]
        writer.writerow([*fields, row.street or ""] if streets else fields)
    return out.getvalue()
