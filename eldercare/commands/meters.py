"""`eldercare meters`: a utility's meter export to a registry and a recording, and
incidents injected into such a recording, so a district can backtest on its own history.

    eldercare meters convert EXPORT.csv[.gz] --out DIR [--meter-column 'user key']
        [--time-column datetime] [--index-column 'meter reading'] [--delimiter ';']
        [--time-format '%d/%m/%Y %H:%M:%S'|iso|epoch_s|epoch_ms]
        [--timezone Europe/Madrid] [--unit litres|m3|gallons] [--encoding utf-8]
        [--attribution FILE]

writes DIR/homes.csv (one home and one water meter per meter id), DIR/recording.jsonl
(one reading a line, in time order) and DIR/ATTRIBUTION.md (the README beside the export,
or --attribution: derived data keeps its source's licence). The defaults read the DAIAD
trial export in shared/data/daiad-meters as it is. Bad rows are listed with their line
number and left out; more than 1 % of them is an error (exit 2) unless --max-bad-share.

    eldercare meters inject --registry DIR/homes.csv --recording DIR/recording.jsonl
        --out DIR2 [--seed 0] [--no-water N --no-water-hours 24-72]
        [--taps N --tap-hours 1-6 --tap-lpm 5]

writes DIR2/recording.jsonl with N stretches of days without water (the index flat:
ground truth `inactivity`/`no_water`) and N taps left running (the flow added to the
index: `leak`/`tap_left_running`), DIR2/truth.jsonl, and copies homes.csv and
ATTRIBUTION.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from core.readings import DeviceType
from core.registry import RegistryError, check_timezone, parse_registry_csv
from core.settings import Settings
from eldercare.meter_export import (
    UNITS_TO_LITRES,
    ExportError,
    ExportFormat,
    attribution_text,
    read_export,
    write_conversion,
)
from eldercare.meter_inject import InjectError, InjectPlan, meter_series, place, rewrite

DEFAULT_EXPORT = Path("../shared/data/daiad-meters/swm_trialA_dev.csv.gz")
DEFAULT_MAX_BAD_SHARE = 0.01


def _hours(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    try:
        values = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be hours like 24-72, got {text!r}") from None
    if not 0 < values[0] <= values[1] <= 720:
        raise argparse.ArgumentTypeError(f"must be within 0–720 h, low <= high, got {text!r}")
    return values


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if not 0 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"must be from 0 to 100000, got {text!r}")
    return value


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a share from 0 to 1, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a share from 0 to 1, got {text!r}")
    return value


def add_parser(subparsers: Any) -> None:
    """Add `meters convert` and `meters inject` to the command line."""
    parser = subparsers.add_parser(
        "meters",
        help="a utility's meter export to a registry and recording; injected incidents",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    defaults = ExportFormat()
    convert = verbs.add_parser("convert", help="meter export CSV → homes.csv + recording.jsonl")
    convert.add_argument(
        "export",
        type=Path,
        nargs="?",
        default=DEFAULT_EXPORT,
        help=f"the export, .csv or .csv.gz (default {DEFAULT_EXPORT})",
    )
    convert.add_argument("--out", type=Path, required=True, metavar="DIR")
    convert.add_argument("--meter-column", default=defaults.meter_column)
    convert.add_argument("--time-column", default=defaults.time_column)
    convert.add_argument("--index-column", default=defaults.index_column)
    convert.add_argument("--delimiter", default=defaults.delimiter)
    convert.add_argument("--time-format", default=defaults.time_format,
                         help="strptime codes, iso, epoch_s or epoch_ms "
                         f"(default {defaults.time_format.replace('%', '%%')})")  # fmt: skip
    convert.add_argument("--timezone", default=defaults.timezone,
                         help="IANA zone of local times without an offset; also the "
                         f"homes' zone (default {defaults.timezone})")  # fmt: skip
    convert.add_argument("--unit", choices=tuple(UNITS_TO_LITRES), default=defaults.unit,
                         help="the index's unit (default litres)")  # fmt: skip
    convert.add_argument("--encoding", default=defaults.encoding)
    convert.add_argument("--attribution", type=Path, metavar="FILE",
                         help="licence and source text to keep with the derived files "
                         "(default: the README.md beside the export)")  # fmt: skip
    convert.add_argument("--max-bad-share", type=_share, default=DEFAULT_MAX_BAD_SHARE,
                         help="share of bad rows tolerated (default 0.01)")  # fmt: skip
    convert.set_defaults(handler=run_convert)
    inject = verbs.add_parser("inject", help="add days without water and taps left running")
    inject.add_argument("--registry", type=Path, required=True)
    inject.add_argument("--recording", type=Path, required=True)
    inject.add_argument("--out", type=Path, required=True, metavar="DIR")
    inject.add_argument("--seed", type=_count, default=0)
    inject.add_argument("--no-water", type=_count, default=0, metavar="N")
    inject.add_argument("--no-water-hours", type=_hours, default=(24.0, 72.0), metavar="A-B")
    inject.add_argument("--taps", type=_count, default=0, metavar="N")
    inject.add_argument("--tap-hours", type=_hours, default=(1.0, 6.0), metavar="A-B")
    inject.add_argument("--tap-lpm", type=float, default=5.0, metavar="L")
    inject.set_defaults(handler=run_inject)


def _fail(message: str) -> int:
    print(f"eldercare meters: {message}", file=sys.stderr)
    return 2


def run_convert(args: argparse.Namespace, settings: Settings) -> int:
    """Convert an export; 2 on a file or option that cannot be used."""
    if not args.export.is_file():
        return _fail(f"no such export: {args.export}")
    if args.attribution is not None and not args.attribution.is_file():
        return _fail(f"--attribution: no such file: {args.attribution}")
    try:
        fmt = ExportFormat(args.meter_column, args.time_column, args.index_column,
                           args.delimiter, args.time_format, args.timezone, args.unit,
                           args.encoding)  # fmt: skip
        conversion = read_export(args.export, fmt)
    except (ExportError, ValueError, LookupError) as exc:
        return _fail(str(exc))
    for bad in conversion.bad:
        print(f"{args.export}: line {bad.line}: {bad.reason}", file=sys.stderr)
    if conversion.bad_count > len(conversion.bad):
        print(f"... and {conversion.bad_count - len(conversion.bad)} more bad rows",
              file=sys.stderr)  # fmt: skip
    if not conversion.readings:
        return _fail(f"{args.export}: no usable row ({conversion.bad_count} bad); check "
                     "--delimiter, the column names and --time-format")  # fmt: skip
    share = conversion.bad_count / max(conversion.rows, 1)
    if share > args.max_bad_share:
        return _fail(f"{conversion.bad_count} of {conversion.rows} rows are bad ({share:.1%}); "
                     "check --delimiter, the column names and --time-format, or allow more "
                     "with --max-bad-share")  # fmt: skip
    note = args.attribution.read_text(encoding="utf-8") if args.attribution else None
    try:
        write_conversion(conversion, args.out, fmt.timezone, attribution_text(args.export, note))
    except (OSError, ExportError) as exc:
        return _fail(str(exc))
    print(f"{conversion.readings} readings of {len(conversion.meters)} meters from "
          f"{conversion.rows} rows ({conversion.bad_count} left out) → {args.out}")  # fmt: skip
    return 0


def run_inject(args: argparse.Namespace, settings: Settings) -> int:
    """Inject incidents; 2 on a file or option that cannot be used."""
    for name in ("registry", "recording"):
        if not getattr(args, name).is_file():
            return _fail(f"--{name}: no such file: {getattr(args, name)}")
    try:
        rows = parse_registry_csv(args.registry.read_text(encoding="utf-8"),
                                  check_timezone(settings.default_timezone))  # fmt: skip
        plan = InjectPlan(args.no_water, args.no_water_hours, args.taps, args.tap_hours,
                          args.tap_lpm, args.seed)  # fmt: skip
        meters = {r.device_id for r in rows if r.type is DeviceType.WATER_METER}
        series = meter_series(args.recording, meters)
        injections = place(plan, rows, series)
        args.out.mkdir(parents=True, exist_ok=True)
        if args.out.resolve() == args.recording.parent.resolve():
            return _fail("--out must not be the recording's own directory")
        with (args.out / "recording.jsonl").open("w", encoding="utf-8", newline="\n") as out:
            out.writelines(rewrite(args.recording, injections, series))
        with (args.out / "truth.jsonl").open("w", encoding="utf-8", newline="\n") as out:
            out.writelines(json.dumps(inj.to_json()) + "\n" for inj in injections)
        shutil.copyfile(args.registry, args.out / "homes.csv")
        attribution = args.recording.parent / "ATTRIBUTION.md"
        if attribution.is_file():
            shutil.copyfile(attribution, args.out / "ATTRIBUTION.md")
    except (RegistryError, InjectError, ValueError, KeyError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"{exc}")
    kinds = {k: sum(i.kind == k for i in injections) for k in ("no_water", "tap_left_running")}
    print(f"injected {kinds['no_water']} stretches without water and "
          f"{kinds['tap_left_running']} taps left running into {len(meters)} meters → "
          f"{args.out}")  # fmt: skip
    return 0
