"""`eldercare`: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from core.errors import StartupError
from core.logs import configure_logging
from core.settings import Settings, SettingsError, settings_help
from core.supervise import leaf_errors
from eldercare.embedded import EmbeddedUnavailable
from storage.migrate import MigrationChangedError

# Each module adds its subcommands; listed here so `--help` shows them in this order.
COMMAND_MODULES = (
    "eldercare.commands.demo",
    "eldercare.commands.run",
    "eldercare.commands.api",
    "eldercare.commands.db",
    "eldercare.commands.ingest",
    "eldercare.commands.detectors",
    "eldercare.commands.nats",
    "eldercare.commands.registry",
    "eldercare.commands.broker",
    "eldercare.commands.users",
    "eldercare.commands.tokens",
    "eldercare.commands.retention",
    "eldercare.commands.residents",
    "eldercare.commands.simulate",
    "eldercare.commands.backtest",
    "eldercare.commands.meters",
    "eldercare.commands.findings",
    "eldercare.commands.alerts",
    "eldercare.commands.duty",
    "eldercare.commands.bench",
    "eldercare.commands.gateways",
    "eldercare.commands.healthcheck",
)


def package_version() -> str:
    """The installed eldercare's version (from its package metadata)."""
    try:
        return importlib.metadata.version("eldercare")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="eldercare",
        description="Open eldercare monitoring backend.",
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"eldercare {package_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency, not a command yet to be written
                raise
            continue
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments and settings, then run the chosen command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"eldercare: bad setting: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    # `docker stop` and service managers send SIGTERM: stop as cleanly as on Ctrl-C
    # (tasks cancelled, connections closed, the embedded database shut down). The
    # long-running services (run, ingest, detectors, alerts run, api, demo) replace this
    # while they run with a stop at an await: eldercare/stopping.py says why.
    if threading.current_thread() is threading.main_thread():  # (tests call main in threads)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return int(args.handler(args, settings))
    except KeyboardInterrupt:
        logging.getLogger("eldercare").info("interrupted")
        return 130
    except Exception as exc:
        # What the operator can fix gets one line saying how; a bug keeps its traceback.
        found = _one_line(exc)
        if found is None:
            raise
        message, code = found
        print(f"eldercare: {message}", file=sys.stderr)
        return code


def _one_line(error: BaseException) -> tuple[str, int] | None:
    """The line to print and the exit code for an error the operator can act on: 2 for
    what to change in how the command is run, 1 for what the services refused."""
    for leaf in leaf_errors(error):
        if isinstance(leaf, EmbeddedUnavailable | MigrationChangedError):
            return str(leaf), 2
        if isinstance(leaf, StartupError):
            return str(leaf), 1
    return None
