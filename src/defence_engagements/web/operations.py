"""``/health`` and ``/version``: what operators and load balancers ask.

``/health`` answers 200 only when a published build is readable *and* a query
worker answers a trivial query within a few seconds, else 503 (with the reason).
``/version`` describes the build being served: version, built-at, triples per
graph and in all, and the software version. Both are JSON and never cached.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from defence_engagements.errors import EngagementsError, StoreUnavailableError
from defence_engagements.formats import RESULTS_JSON
from defence_engagements.query import QueryExecutor, QueryRequest
from defence_engagements.store import read_manifest

_NO_STORE = {"Cache-Control": "no-store", "Access-Control-Allow-Origin": "*"}
_HEALTH_QUERY_TIMEOUT = 5.0


def software_version() -> str:
    try:
        return package_version("defence-engagements")
    except PackageNotFoundError:
        return "unknown"


def build_description(current_link: Path) -> dict[str, Any]:
    """The served build's manifest, summarised; raises StoreUnavailableError."""
    if not current_link.exists():
        raise StoreUnavailableError("no published build; run `engagements build`")
    root = current_link.resolve()
    manifest = read_manifest(root)
    graphs = {str(k): int(v) for k, v in (manifest.get("graphs") or {}).items()}
    return {
        "version": manifest.get("version"),
        "built_at": manifest.get("built_at"),
        "build_id": root.name,
        "triples": sum(graphs.values()),
        "graphs": graphs,
    }


def operations_routes(
    current_link: Path | Callable[[], Path], executor: Callable[[], QueryExecutor]
) -> list[Route]:
    """Routes bound to the build link and the executor the app uses."""

    def link() -> Path:
        return current_link() if callable(current_link) else current_link

    async def version(request: Request) -> JSONResponse:
        try:
            build = build_description(link())
        except EngagementsError as error:
            return JSONResponse(
                {"software": software_version(), "build": None, "error": error.message},
                status_code=503,
                headers=_NO_STORE,
            )
        return JSONResponse({"software": software_version(), **build}, headers=_NO_STORE)

    async def health(request: Request) -> JSONResponse:
        started = time.monotonic()
        try:
            build = build_description(link())
            await executor().execute(
                QueryRequest(
                    query="ASK {}",
                    results_format=RESULTS_JSON,
                    graph_format=None,
                    timeout=_HEALTH_QUERY_TIMEOUT,
                )
            )
        except EngagementsError as error:
            return JSONResponse(
                {"status": "unavailable", "reason": error.message},
                status_code=503,
                headers={**_NO_STORE, "Retry-After": "5"},
            )
        return JSONResponse(
            {
                "status": "ok",
                "version": build["version"],
                "triples": build["triples"],
                "checked_in_ms": round((time.monotonic() - started) * 1000, 2),
            },
            headers=_NO_STORE,
        )

    return [
        Route("/health", health, methods=["GET", "HEAD"]),
        Route("/version", version, methods=["GET", "HEAD"]),
    ]
