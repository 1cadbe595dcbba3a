"""`eldercare healthcheck`: exit 0 when the API of this host's `eldercare run` answers
/readyz with 200 (its database and broker answer). The image's HEALTHCHECK runs it: a slim
image has no curl, and this reads the same ELDERCARE_API_HOST/PORT the service does."""

from __future__ import annotations

import argparse
import sys
import urllib.error
import urllib.request
from typing import Any

from core.settings import Settings

# Addresses a server listens on that a client cannot connect to: ask loopback instead.
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


def add_parser(subparsers: Any) -> None:
    """Register `healthcheck`."""
    parser = subparsers.add_parser(
        "healthcheck",
        help="exit 0 if this host's API answers /readyz with 200 (for container health checks)",
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait [5]")
    parser.set_defaults(handler=run_healthcheck)


def readyz_url(settings: Settings) -> str:
    """Where this host's API answers /readyz."""
    host = _ANY_ADDRESS.get(settings.api_host, settings.api_host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.api_port}/readyz"


def run_healthcheck(args: argparse.Namespace, settings: Settings) -> int:
    """Ask /readyz once; say what was wrong on stderr and exit 1 if it was not 200."""
    if settings.api_port == 0:
        print("eldercare healthcheck: ELDERCARE_API_PORT is 0 (any free port)", file=sys.stderr)
        return 1
    url = readyz_url(settings)
    # No proxy: an HTTP(S)_PROXY in the container's environment must not answer for us.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=args.timeout) as response:
            body = response.read(512).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        detail = exc.read(512).decode(errors="replace")
        print(f"eldercare healthcheck: {url} answered {exc.code}: {detail}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"eldercare healthcheck: {url} unreachable: {exc}", file=sys.stderr)
        return 1
    print(f"{url}: {body}")
    return 0
