"""What a database error means for the operator: an outage to wait out, a refusal to
report and retry, or a setting to fix — in one line, naming what to do.

The line names the server, the database and the role, never the password.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import asyncpg

from core.errors import StartupError
from core.supervise import leaf_errors

URL_SETTING = "ELDERCARE_DATABASE_URL"

# Lost, refused or interrupted connections, a server starting or stopping, a transaction
# chosen as a deadlock victim: all pass by themselves. asyncpg's InternalClientError
# ("cannot switch to state …") comes out of a connection that died mid-operation.
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.TransactionRollbackError,
)
# The server is up but will not take our writes; an operator must act, and we retry.
_REFUSALS: tuple[type[BaseException], ...] = (
    asyncpg.ReadOnlySQLTransactionError,
    asyncpg.InsufficientPrivilegeError,
)


def is_transient(error: BaseException) -> bool:
    """True for errors that pass by themselves: a lost connection (to the database or the
    broker), a server restarting, or writes refused until an operator allows them."""
    if isinstance(error, asyncpg.exceptions.ClientConfigurationError | socket.gaierror):
        return False
    return isinstance(error, OUTAGE_ERRORS + _REFUSALS)


@dataclass(frozen=True, slots=True)
class DatabaseProblem:
    """One line for the operator; `permanent`: retrying cannot help until they act."""

    message: str
    permanent: bool


@dataclass(frozen=True, slots=True)
class _Where:
    host: str
    port: str
    database: str
    user: str

    @property
    def server(self) -> str:
        return f"{self.host}:{self.port}"


def _where(url: str) -> _Where:
    try:
        parts = urlsplit(url)
        port = str(parts.port or 5432)
    except ValueError:
        return _Where("?", "?", "?", "?")
    database = unquote(parts.path.lstrip("/")) or "(default)"
    return _Where(parts.hostname or "localhost", port, database, unquote(parts.username or "?"))


class DatabaseUnavailable(StartupError):
    """The database cannot be used now; `problem` says why, and whether to retry."""

    def __init__(self, problem: DatabaseProblem) -> None:
        super().__init__(problem.message.removesuffix("; retrying"))
        self.problem = problem


def database_problem(error: BaseException, url: str) -> DatabaseProblem | None:
    """What went wrong reaching or writing the database at `url`, or None when the error
    is not a database error we can explain."""
    for leaf in leaf_errors(error):
        problem = _explain(leaf, _where(url))
        if problem is not None:
            return problem
    return None


def _explain(error: BaseException, at: _Where) -> DatabaseProblem | None:
    fix = f"fix {URL_SETTING}"
    if isinstance(error, asyncpg.InvalidAuthorizationSpecificationError):
        return DatabaseProblem(
            f"the database at {at.server} refused the login of role {at.user!r}"
            f" ({first_line(error)}): check the user and password in {URL_SETTING}",
            permanent=True,
        )
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return DatabaseProblem(
            f"there is no database {at.database!r} on {at.server}: create it"
            f" (createdb -O {at.user} {at.database}) or {fix}",
            permanent=True,
        )
    if isinstance(error, socket.gaierror):
        return DatabaseProblem(
            f"cannot resolve the database host {at.host!r} ({error.strerror}): {fix}",
            permanent=True,
        )
    if isinstance(error, asyncpg.exceptions.ClientConfigurationError):
        return DatabaseProblem(f"{URL_SETTING} is not usable ({first_line(error)})", True)
    if isinstance(error, asyncpg.ReadOnlySQLTransactionError):
        return DatabaseProblem(
            f"the database at {at.server} refuses writes: it is read-only (a standby, or"
            f" default_transaction_read_only is on): point {URL_SETTING} at the primary or"
            " make it writable; retrying",
            permanent=False,
        )
    if isinstance(error, asyncpg.InsufficientPrivilegeError):
        return DatabaseProblem(
            f"the database at {at.server} refuses role {at.user!r}: {first_line(error)};"
            f" make it the owner (ALTER DATABASE {at.database} OWNER TO {at.user}), grant"
            f" what is missing, or {fix}; retrying",
            permanent=False,
        )
    if isinstance(error, asyncpg.CannotConnectNowError):
        return DatabaseProblem(
            f"the database at {at.server} is starting up or shutting down; retrying", False
        )
    if isinstance(error, asyncpg.TooManyConnectionsError):
        return DatabaseProblem(
            f"the database at {at.server} has no connection slots left (max_connections); retrying",
            permanent=False,
        )
    if isinstance(error, asyncpg.DiskFullError):
        return DatabaseProblem(f"the database at {at.server} is out of disk space; retrying", False)
    if isinstance(error, ConnectionRefusedError):
        return DatabaseProblem(
            f"nothing accepts connections at {at.server}: start PostgreSQL there or {fix};"
            " retrying",
            permanent=False,
        )
    if isinstance(error, TimeoutError):
        return DatabaseProblem(f"the database at {at.server} did not answer in time; retrying",
                               permanent=False)  # fmt: skip
    if isinstance(error, OSError | asyncpg.PostgresConnectionError | asyncpg.InterfaceError):
        return DatabaseProblem(
            f"lost the connection to the database at {at.server}"
            f" ({type(error).__name__}: {first_line(error)}); retrying",
            permanent=False,
        )
    return None


def first_line(error: BaseException) -> str:
    """The error's first line (the database's own words), at most 200 characters."""
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else type(error).__name__
