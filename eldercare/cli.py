"""`eldercare`: one entry point, a subcommand per job."""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Sequence

from core.logs import configure_logging
from core.settings import Settings, SettingsError, settings_help

# Each module adds its subcommands; listed here so `--help` shows them in this order.
COMMAND_MODULES = (
    "eldercare.commands.demo",
    "eldercare.commands.run",
    "eldercare.commands.db",
    "eldercare.commands.ingest",
    "eldercare.commands.registry",
    "eldercare.commands.users",
    "eldercare.commands.simulate",
    "eldercare.commands.backtest",
    "eldercare.commands.findings",
    "eldercare.commands.alerts",
    "eldercare.commands.bench",
    "eldercare.commands.gateways",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="eldercare",
        description="Open eldercare monitoring backend.",
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
    configure_logging(settings.log_level)
    # `docker stop` and service managers send SIGTERM: stop as cleanly as on Ctrl-C
    # (tasks cancelled, connections closed, the embedded database shut down).
    if threading.current_thread() is threading.main_thread():  # (tests call main in threads)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return int(args.handler(args, settings))
    except KeyboardInterrupt:
        logging.getLogger("eldercare").info("interrupted")
        return 130
