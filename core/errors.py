"""Errors a process reports to its operator as one line, instead of a traceback."""

from __future__ import annotations


class StartupError(Exception):
    """The process cannot start until the operator acts; the message says how."""
