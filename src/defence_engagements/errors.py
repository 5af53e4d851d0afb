"""One base exception; every error a user can cause is one of these.

The CLI turns them into one readable line and an exit code, the web layer into
a 4xx/5xx with a readable message. Nothing else should reach a user.
"""

from __future__ import annotations

from dataclasses import dataclass


class EngagementsError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with."""

    exit_code = 2

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class ConfigurationError(EngagementsError):
    """Bad settings, missing directories, unusable environment (exit 2)."""


class DataError(EngagementsError):
    """The data is wrong: syntax errors, shape violations (exit 1)."""

    exit_code = 1


@dataclass(frozen=True)
class SourceLocation:
    file: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)


class RdfSyntaxError(DataError):
    """A file does not parse; carries where."""

    def __init__(self, location: SourceLocation, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.reason = message

    def __reduce__(self) -> tuple[type[RdfSyntaxError], tuple[SourceLocation, str]]:
        # Raised in parse workers: it must cross back to the build process whole.
        return (type(self), (self.location, self.reason))


class StoreUnavailableError(EngagementsError):
    """No published build, or the store is locked by another writer (exit 2)."""


class QueryError(EngagementsError):
    """A query that cannot run: syntax error, refused update, refused SERVICE (exit 1)."""

    exit_code = 1


class QuerySyntaxError(QueryError):
    """The query does not parse; ``message`` is the parser's own message (HTTP 400)."""


class UpdateNotAllowedError(QueryError):
    """An update (in any form) sent to the read-only endpoint (HTTP 400/405)."""


class ServiceNotAllowedError(QueryError):
    """A SERVICE IRI refused by the policy, before anything runs (HTTP 403)."""

    def __init__(self, iri: str, reason: str) -> None:
        super().__init__(f"SERVICE <{iri}> is not allowed: {reason}")
        self.iri = iri
        self.reason = reason


class NotAcceptableError(QueryError):
    """No format the client accepts fits the query's result kind (HTTP 406)."""


class QueryTimeoutError(QueryError):
    """The query ran out of time and was stopped (HTTP 503)."""

    def __init__(self, limit: float, elapsed: float) -> None:
        super().__init__(
            f"the query was stopped after {elapsed:.1f} s: the time limit is {limit:g} s"
        )
        self.limit = limit
        self.elapsed = elapsed


class OverloadedError(QueryError):
    """No worker could take the query in time (HTTP 503 with Retry-After)."""

    retry_after = 5  # seconds, for the Retry-After header


class WorkerCrashedError(QueryError):
    """A query worker process died while running a query; it was replaced (HTTP 500)."""
