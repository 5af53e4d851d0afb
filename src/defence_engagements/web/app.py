"""The ASGI app: the URL table, the middleware, and what the handlers share.

``create_app(settings, executor=None)``: without an executor, queries run in this
process over the published build (query/inprocess.py); the server command passes
the worker pool or a remote executor instead. The app never opens a store: data
comes through the executor, build metadata through a :class:`BuildProvider`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response

from defence_engagements.query import QueryExecutor
from defence_engagements.query.inprocess import InProcessExecutor
from defence_engagements.settings import Settings
from defence_engagements.web.access_log import (
    AccessLogMiddleware,
    configure_access_log,
    flush_access_log,
)
from defence_engagements.web.context import WebContext
from defence_engagements.web.fast_lane import FastLane
from defence_engagements.web.front_cache import FrontCache, FrontCacheMiddleware
from defence_engagements.web.gzip import SelectiveGZipMiddleware
from defence_engagements.web.limits import RequestLimitsMiddleware
from defence_engagements.web.operations import operations_routes
from defence_engagements.web.problem import LastResortMiddleware, problem_body
from defence_engagements.web.published_build import BuildProvider, LocalBuildProvider
from defence_engagements.web.routes import routes
from defence_engagements.web.urls import UrlMapper

EXPOSED_HEADERS = [
    "ETag",
    "Content-Location",
    "Content-Length",
    "Content-Range",
    "Accept-Ranges",
    "Last-Modified",
    "X-Result-Truncated",
    "X-Result-Limit",
    "Warning",
    "Retry-After",
]


def serving_base_url(settings: Settings) -> str:
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/") + "/"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}/"


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    titles = {404: "Not Found", 405: "Method Not Allowed"}
    detail = (
        f"Nothing is published at {request.url.path}."
        if error.status_code == 404
        else str(error.detail)
    )
    body, content_type = problem_body(
        error.status_code,
        titles.get(error.status_code, "Error"),
        detail,
        request.headers.get("accept"),
    )
    headers = {"Access-Control-Allow-Origin": "*", "Vary": "Accept", **(error.headers or {})}
    return Response(body, status_code=error.status_code, headers=headers, media_type=content_type)


def create_app(
    settings: Settings,
    executor: QueryExecutor | None = None,
    *,
    builds: BuildProvider | None = None,
) -> Starlette:
    executor = executor or InProcessExecutor(settings.current_build)
    context = WebContext(
        settings=settings,
        executor=executor,
        builds=builds or LocalBuildProvider(settings.current_build),
        urls=UrlMapper.for_base(serving_base_url(settings), settings.base_iri),
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        start = getattr(executor, "start", None)
        if start is not None:
            await start()  # worker processes ready before the first request
        try:
            yield
        finally:
            await executor.close()
            flush_access_log()

    configure_access_log(settings.access_log)
    caching = settings.front_cache_entries > 0 and settings.front_cache_entry_bytes > 0
    front_cache = FrontCache(
        build_version=lambda: context.builds.current().version,
        max_entries=settings.front_cache_entries if caching else 0,
        entry_bytes=settings.front_cache_entry_bytes if caching else 0,
        max_header_bytes=settings.max_header_bytes,
    )
    # Outside every middleware that shapes a response, so it keeps what they sent.
    front_cache_middleware = (
        [Middleware(FrontCacheMiddleware, cache=front_cache)] if caching else []
    )
    app = Starlette(
        routes=[
            *operations_routes(lambda: settings.current_build, lambda: context.executor),
            *routes(),
        ],
        middleware=[
            Middleware(LastResortMiddleware),
            *front_cache_middleware,
            Middleware(AccessLogMiddleware),
            Middleware(
                RequestLimitsMiddleware,
                max_body_bytes=settings.max_body_bytes,
                max_query_length=settings.max_query_length,
                max_header_bytes=settings.max_header_bytes,
                body_read_timeout=settings.body_read_timeout,
            ),
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["GET", "HEAD", "POST", "OPTIONS"],
                allow_headers=["*"],
                expose_headers=EXPOSED_HEADERS,
                allow_credentials=False,
                max_age=86400,
            ),
            Middleware(SelectiveGZipMiddleware),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.context = context
    if settings.fast_lane:  # web/http_protocol.py looks for it
        app.state.fast_lane = FastLane(context, front_cache)
    return app
