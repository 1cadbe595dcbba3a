"""A utility's meter export (CSV: meter id, time, cumulative index) to a registry and a
recording, so a district can backtest on its own history before switching anything on.

The export's column names, delimiter, time format, time zone and index unit are options
(`ExportFormat`); the defaults read the DAIAD trial export in `shared/data/daiad-meters`
(`user key;datetime;meter reading;diff`, `DD/MM/YYYY HH:MM:SS` Europe/Madrid, litres).
A `.gz` file is read through gzip. Each meter becomes a home with one water meter; each
row a reading `{"ts", "seq", "volume_l"}` on the meter's telemetry topic, the recording in
time order across meters (DESIGN.md: files that travel).

Rows that cannot be used are reported with their line number and reason and left out;
the rest is converted. Nothing is silently dropped: a second row for the same meter and
time is reported as a duplicate, a time that does not exist locally (the hour skipped
when clocks go forward) as such.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo

from core.readings import DeviceType
from core.registry import RegistryRow, check_timezone, format_registry_csv
from ingest.wire import MAX_VOLUME_L, format_ts, topic_for

UNITS_TO_LITRES = {"litres": 1.0, "l": 1.0, "m3": 1000.0, "gallons": 3.785411784}
_ID_OK = re.compile(r"[^A-Za-z0-9_-]")
MAX_HOME_ID_CHARS = 58  # the device id adds "-water" and must stay within 64
MAX_REPORTED_ROWS = 20  # bad rows listed one by one; the rest only counted


class ExportError(ValueError):
    """An export that cannot be converted at all (unreadable, or without the columns)."""


@dataclass(frozen=True, slots=True)
class ExportFormat:
    """How to read a meter export; the defaults read the DAIAD trial export."""

    meter_column: str = "user key"
    time_column: str = "datetime"
    index_column: str = "meter reading"
    delimiter: str = ";"
    time_format: str = "%d/%m/%Y %H:%M:%S"
    timezone: str = "Europe/Madrid"
    unit: str = "litres"
    encoding: str = "utf-8"

    def __post_init__(self) -> None:
        if len(self.delimiter) != 1:
            raise ValueError(f"the delimiter must be one character, got {self.delimiter!r}")
        if self.unit not in UNITS_TO_LITRES:
            raise ValueError(f"unit must be one of {', '.join(UNITS_TO_LITRES)}")
        check_timezone(self.timezone)
        if "%" not in self.time_format and self.time_format not in ("iso", "epoch_s", "epoch_ms"):
            raise ValueError("time format: strptime codes (e.g. %Y-%m-%d %H:%M), iso, "
                             "epoch_s or epoch_ms")  # fmt: skip


@dataclass(frozen=True, slots=True)
class BadRow:
    """A row left out, with why."""

    line: int
    reason: str


@dataclass(slots=True)
class Conversion:
    """What a conversion read: readings per meter (UTC epoch ms, litres, line) and bad
    rows."""

    meters: dict[str, list[tuple[int, float, int]]] = field(default_factory=dict)
    bad: list[BadRow] = field(default_factory=list)
    bad_count: int = 0
    rows: int = 0

    def reject(self, line: int, reason: str) -> None:
        """Note a bad row (the first few in full)."""
        self.bad_count += 1
        if len(self.bad) < MAX_REPORTED_ROWS:
            self.bad.append(BadRow(line, reason))

    @property
    def readings(self) -> int:
        """How many readings were kept."""
        return sum(len(v) for v in self.meters.values())


def open_text(path: Path, encoding: str) -> IO[str]:
    """The file as text, through gzip when it is gzipped (by its first bytes)."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding=encoding, newline="")
    return path.open(encoding=encoding, newline="")


class _TimeParser:
    """Local export times to UTC epoch ms, remembering each hour's offset."""

    def __init__(self, fmt: ExportFormat) -> None:
        self.format = fmt.time_format
        self.zone = ZoneInfo(fmt.timezone)

    def __call__(self, text: str) -> tuple[int, int]:
        """(UTC ms, UTC ms): the two instants of a local time repeated when clocks go
        back (the same twice otherwise)."""
        text = text.strip()
        if self.format == "epoch_s":
            ms = round(float(text) * 1000)
            return ms, ms
        if self.format == "epoch_ms":
            return int(text), int(text)
        if self.format == "iso":
            moment = datetime.fromisoformat(text)
        else:
            moment = datetime.strptime(text, self.format)  # naive: the zone is added below
        if moment.tzinfo is not None:
            ms = round(moment.timestamp() * 1000)
            return ms, ms
        local = moment.replace(tzinfo=self.zone)
        # A wall time skipped when clocks go forward does not exist: not a reading.
        back = local.astimezone(UTC).astimezone(self.zone).replace(tzinfo=None)
        if back != moment:
            raise ValueError(f"{text} does not exist in {self.zone.key} (clocks went forward)")
        first = round(local.timestamp() * 1000)
        return first, round(local.replace(fold=1).timestamp() * 1000)


def _number(text: str) -> float:
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        if text.count(",") != 1 or "." in text:
            raise
        value = float(text.replace(",", "."))  # a decimal comma
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def read_export(path: Path, fmt: ExportFormat) -> Conversion:
    """Read every row of the export; bad rows are reported, not fatal."""
    result = Conversion()
    parse_time = _TimeParser(fmt)
    scale = UNITS_TO_LITRES[fmt.unit]
    try:
        handle = open_text(path, fmt.encoding)
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc}") from None
    with handle:
        reader = csv.reader(handle, delimiter=fmt.delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise ExportError(f"{path} is empty") from None
        except (UnicodeDecodeError, OSError, EOFError, csv.Error) as exc:
            raise ExportError(f"{path}: line 1: {exc}") from None
        columns = [name.strip().lstrip("\ufeff") for name in header]
        wanted = (fmt.meter_column, fmt.time_column, fmt.index_column)
        missing = [name for name in wanted if name not in columns]
        if missing:
            raise ExportError(
                f"line 1: no column {', '.join(map(repr, missing))} (the header has "
                f"{', '.join(map(repr, columns))}; delimiter {fmt.delimiter!r})"
            )
        at = [columns.index(name) for name in wanted]
        width = len(columns)
        try:
            for row in reader:
                line = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                result.rows += 1
                _read_row(row, line, width, at, parse_time, scale, result)
        except (UnicodeDecodeError, OSError, EOFError, csv.Error) as exc:
            raise ExportError(f"{path}: line {reader.line_num + 1}: {exc}") from None
    for readings in result.meters.values():
        readings.sort(key=lambda r: (r[0], r[2]))
    _drop_duplicates(result)
    result.bad.sort(key=lambda b: b.line)
    return result


def _read_row(
    row: list[str],
    line: int,
    width: int,
    at: list[int],
    parse_time: _TimeParser,
    scale: float,
    result: Conversion,
) -> None:
    if len(row) != width:
        result.reject(line, f"{len(row)} fields, the header has {width}")
        return
    meter, time_text, index_text = (row[i] for i in at)
    meter = meter.strip()
    if not meter:
        result.reject(line, "no meter id")
        return
    try:
        ts, repeated = parse_time(time_text)
    except (ValueError, OverflowError) as exc:
        result.reject(line, f"time {time_text!r}: {exc}")
        return
    readings = result.meters.get(meter)
    if repeated != ts and readings and readings[-1][0] >= ts:
        ts = repeated  # the hour that comes twice when clocks go back: its second pass
    try:
        litres = _number(index_text) * scale
    except ValueError:
        result.reject(line, f"index {index_text!r} is not a number")
        return
    if not 0 <= litres <= MAX_VOLUME_L:
        result.reject(line, f"index {index_text!r} out of range (0 to {MAX_VOLUME_L:g} L)")
        return
    if ts < 946_684_800_000:  # before 2000: the wire contract's unset clock
        result.reject(line, f"time {time_text!r} is before 2000")
        return
    result.meters.setdefault(meter, []).append((ts, litres, line))


def _drop_duplicates(result: Conversion) -> None:
    for meter, readings in result.meters.items():
        kept: list[tuple[int, float, int]] = []
        for reading in readings:
            if kept and kept[-1][0] == reading[0]:
                result.reject(reading[2], f"meter {meter}: a second reading at the time of "
                                          f"line {kept[-1][2]}; that one is kept")  # fmt: skip
                continue
            kept.append(reading)
        result.meters[meter] = kept


def home_ids(meters: list[str]) -> dict[str, str]:
    """A home id for each meter id: the meter id where it is a valid id, else made valid
    (other characters → '-', cut to length); ExportError if two meters would collide."""
    out: dict[str, str] = {}
    taken: dict[str, str] = {}
    for meter in meters:
        home = _ID_OK.sub("-", meter)[:MAX_HOME_ID_CHARS]
        if home in taken:
            raise ExportError(f"meters {taken[home]!r} and {meter!r} would both be home {home!r}")
        taken[home] = meter
        out[meter] = home
    return out


def registry_rows(conversion: Conversion, timezone: str) -> list[RegistryRow]:
    """One home with one water meter per meter of the export."""
    homes = home_ids(sorted(conversion.meters))
    return [
        RegistryRow(home, f"{home}-water", DeviceType.WATER_METER, None, timezone)
        for home in homes.values()
    ]


def recording_lines(conversion: Conversion) -> Iterator[str]:
    """The recording, one line per reading, in time order across meters."""
    homes = home_ids(sorted(conversion.meters))
    merged = sorted(
        (ts, homes[meter], seq, litres)
        for meter, readings in conversion.meters.items()
        for seq, (ts, litres, _) in enumerate(readings)
    )
    topics: dict[str, str] = {}
    for ts, home, seq, litres in merged:
        topic = topics.get(home)
        if topic is None:
            topic = topics[home] = topic_for(f"{home}-water", "telemetry")
        stamp = format_ts(datetime.fromtimestamp(ts / 1000, UTC))
        volume = json.dumps(round(litres, 3))
        payload = f'{{"ts":"{stamp}","seq":{seq},"volume_l":{volume}}}'
        yield f'{{"topic":"{topic}","payload":{payload}}}\n'


def attribution_text(source: Path, note: str | None) -> str | None:
    """What travels with derived files: the source's README (its licence and origin)."""
    readme = source.parent / "README.md"
    if note is None and not readme.is_file():
        return None
    body = note if note is not None else readme.read_text(encoding="utf-8")
    return (
        f"# Attribution\n\nThe files in this directory are derived from `{source.name}` by "
        "`eldercare meters convert` (and, where a truth file is here, incidents injected "
        "by `eldercare meters inject`). The source's terms apply to them; as it says:\n\n"
        f"{body}"
    )


def write_conversion(
    conversion: Conversion, out_dir: Path, timezone: str, attribution: str | None
) -> None:
    """Write homes.csv, recording.jsonl and (when known) ATTRIBUTION.md into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = registry_rows(conversion, timezone)
    (out_dir / "homes.csv").write_text(format_registry_csv(rows), encoding="utf-8")
    with (out_dir / "recording.jsonl").open("w", encoding="utf-8", newline="\n") as out:
        out.writelines(recording_lines(conversion))
    if attribution is not None:
        (out_dir / "ATTRIBUTION.md").write_text(attribution, encoding="utf-8")
