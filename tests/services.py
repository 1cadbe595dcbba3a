"""Real services for tests: throwaway databases, and Mosquitto brokers on loopback."""

from __future__ import annotations

import os
import uuid

from eldercare.mosquitto import (
    INGEST_USER,
    SIMULATOR_USER,
    Mosquitto,
    free_port,
    free_ports,
    make_mosquitto,
)
from storage.pool import with_database

__all__ = [
    "INGEST_USER",
    "SIMULATOR_USER",
    "Mosquitto",
    "free_port",
    "free_ports",
    "make_mosquitto",
]


# The PostgreSQL server the suite runs against: plain PostgreSQL or TimescaleDB.
ADMIN_URL = os.environ.get(
    "ELDERCARE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# What that server is expected to be, so a run meant for TimescaleDB cannot pass on
# plain PostgreSQL by accident.
EXPECT_BACKEND = os.environ.get("ELDERCARE_TEST_EXPECT_BACKEND", "")
# A command that takes `stop` or `start` for that server (the outage test uses it).
PG_CTL = os.environ.get("ELDERCARE_TEST_PG_CTL", "")


def database_url(name: str) -> str:
    """ADMIN_URL pointed at another database."""
    return with_database(ADMIN_URL, name)


def unique_name(prefix: str) -> str:
    """A fresh identifier safe for database and device names."""
    return f"{prefix}_{uuid.uuid4().hex[:10]}"
