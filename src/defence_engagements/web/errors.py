"""Exceptions → HTTP answers, in one place.

Every error a user can cause is an :class:`EngagementsError`; here it becomes a
status and a readable problem document (JSON, HTML or text by Accept). The web
layer's own protocol errors live here too.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from defence_engagements.errors import (
    EngagementsError,
    NotAcceptableError,
    OverloadedError,
    QueryError,
    QuerySyntaxError,
    QueryTimeoutError,
    ServiceNotAllowedError,
    StoreUnavailableError,
    UpdateNotAllowedError,
    WorkerCrashedError,
)
from defence_engagements.web.problem import problem_body


class ProtocolError(EngagementsError):
    """A request the SPARQL protocol does not allow (HTTP 400)."""


class UnsupportedMediaTypeError(EngagementsError):
    """A request body in a media type this endpoint does not read (HTTP 415)."""


class MethodNotAllowedError(EngagementsError):
    """A method other than GET/HEAD/POST/OPTIONS on a read endpoint (HTTP 405)."""


class NotFoundError(EngagementsError):
    """Nothing is published at this URL (HTTP 404)."""


# Most specific first: the first class an error is an instance of wins.
_STATUS: tuple[tuple[type[EngagementsError], int, str], ...] = (
    (QuerySyntaxError, 400, "Bad Request"),
    (UpdateNotAllowedError, 400, "Bad Request"),
    (ServiceNotAllowedError, 403, "Forbidden"),
    (NotAcceptableError, 406, "Not Acceptable"),
    (QueryTimeoutError, 503, "Service Unavailable"),
    (OverloadedError, 503, "Service Unavailable"),
    (WorkerCrashedError, 500, "Internal Server Error"),
    (QueryError, 400, "Bad Request"),
    (ProtocolError, 400, "Bad Request"),
    (UnsupportedMediaTypeError, 415, "Unsupported Media Type"),
    (MethodNotAllowedError, 405, "Method Not Allowed"),
    (NotFoundError, 404, "Not Found"),
    (StoreUnavailableError, 503, "Service Unavailable"),
)


def status_for(error: EngagementsError) -> tuple[int, str]:
    for cls, status, title in _STATUS:
        if isinstance(error, cls):
            return status, title
    return 400, "Bad Request"


def error_response(request: Request, error: EngagementsError) -> Response:
    status, title = status_for(error)
    extra: dict[str, object] = {}
    headers = {
        "Cache-Control": "no-store",
        "Vary": "Accept",
        "Access-Control-Allow-Origin": "*",
    }
    if isinstance(error, QueryTimeoutError):
        extra = {"limit_seconds": error.limit, "elapsed_seconds": round(error.elapsed, 3)}
    if isinstance(error, OverloadedError | StoreUnavailableError):
        headers["Retry-After"] = str(OverloadedError.retry_after)
    if isinstance(error, MethodNotAllowedError):
        headers["Allow"] = "GET, HEAD, POST, OPTIONS"
    detail = error.message if not error.detail else f"{error.message}\n{error.detail}"
    body, content_type = problem_body(status, title, detail, request.headers.get("accept"), extra)
    return Response(body, status_code=status, headers=headers, media_type=content_type)
