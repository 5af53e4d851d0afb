"""`engagements serve`: the web app on uvicorn, over the published build.

With several server processes (``--processes``, default one per core) uvicorn's
supervisor starts them on one listening socket; each builds the app with
:func:`create_served_app` from the settings the parent resolved (handed over as
``ENGAGEMENTS_*`` variables) and runs its own query workers, answer memo and
connection cap (``max_connections`` shared out between them).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from defence_engagements.cli import app
from defence_engagements.query import QueryExecutor
from defence_engagements.query.service_policy import ServicePolicy
from defence_engagements.settings import Settings, load_settings
from defence_engagements.web.published_build import BuildProvider

if TYPE_CHECKING:
    from starlette.applications import Starlette


# Both parsers cap a request head at h11_max_incomplete_event_size (then 400).
HTTP_PROTOCOLS = {
    "h11": "h11",
    "httptools": "defence_engagements.web.http_protocol:BoundedHttpToolsProtocol",
}


def build_executor(settings: Settings) -> QueryExecutor:
    """The executor the server runs queries with: worker processes unless told otherwise."""
    policy = ServicePolicy(
        allow=settings.service_allow, allow_private=settings.service_allow_private
    )
    if settings.sparql_backend:
        from defence_engagements.query.remote import remote_executor_for

        return remote_executor_for(settings, policy)
    if settings.workers_per_process > 0:
        from defence_engagements.query.bounded import BoundedFirstExecutor
        from defence_engagements.query.pool import WorkerPoolExecutor

        pool = WorkerPoolExecutor(
            settings.current_build,
            workers=settings.workers_per_process,
            policy=policy,
            service_timeout=settings.service_timeout,
            queue_timeout=settings.query_queue_timeout,
            max_query_length=settings.max_query_length,
        )
        if settings.bounded_query_rows <= 0:
            return pool
        return BoundedFirstExecutor(
            pool,
            settings.current_build,
            rows=settings.bounded_query_rows,
            max_query_length=min(4096, settings.max_query_length),
        )
    from defence_engagements.query.inprocess import InProcessExecutor

    return InProcessExecutor(settings.current_build, policy=policy)


def create_served_app(settings: Settings | None = None) -> Starlette:
    """The app one server process runs: its executor, its build metadata."""
    from defence_engagements.web.app import create_app

    settings = settings or load_settings()
    return create_app(settings, build_executor(settings), builds=remote_builds(settings))


def remote_builds(settings: Settings) -> BuildProvider | None:
    """With a SPARQL backend and no local build, the build the remote store holds."""
    if not settings.sparql_backend or settings.current_build.exists():
        return None
    from defence_engagements.query.remote import remote_build_reader_for
    from defence_engagements.web.published_build import BuildInfo

    reader = remote_build_reader_for(settings)

    class RemoteBuilds:
        def current(self) -> BuildInfo:
            build = reader.current()
            return BuildInfo(build.version, build.built_at, build.graphs, dumps_dir=None)

    return RemoteBuilds()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    base_url: Annotated[
        str | None,
        typer.Option(
            help="Public URL the server is reached at (e.g. https://data.example.org/); "
            "canonical IRIs are mapped onto it. Default: http://HOST:PORT/."
        ),
    ] = None,
    sparql_backend: Annotated[
        str | None,
        typer.Option(
            help="Answer from this remote SPARQL endpoint (filled by `engagements push`) "
            "instead of the embedded store; build metadata still comes from build/current."
        ),
    ] = None,
    query_timeout: Annotated[
        float | None,
        typer.Option(
            help="Longest a query may run, in seconds (default 30); a request's own "
            "timeout= parameter is capped by it. A query out of time is stopped.",
            min=0.1,
        ),
    ] = None,
    max_rows: Annotated[
        int | None,
        typer.Option(
            help="Most solutions or triples in one answer (default 100000); a cut answer says so.",
            min=1,
        ),
    ] = None,
    processes: Annotated[
        int | None,
        typer.Option(
            help="Server processes answering on the port (default: one per CPU core); "
            "the query workers are shared out between them.",
            min=1,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Query worker processes (default 2), shared out between the server "
            "processes (at least one each); 0 runs queries in-process, without time limits.",
            min=0,
        ),
    ] = None,
    service_allow: Annotated[
        list[str] | None,
        typer.Option(
            help="A SPARQL endpoint federated queries may call with SERVICE (repeatable; "
            "exact IRI). Default: https://query.wikidata.org/sparql."
        ),
    ] = None,
    service_allow_private: Annotated[
        bool | None,
        typer.Option(
            "--service-allow-private",
            help="Let allow-listed SERVICE endpoints resolve to loopback, private or "
            "link-local addresses (a private mirror, tests).",
        ),
    ] = None,
    service_timeout: Annotated[
        float | None,
        typer.Option(
            help="Longest a query that calls SERVICE may run, in seconds (default 10).", min=0.1
        ),
    ] = None,
) -> None:
    """Serve the SPARQL endpoint, linked-data documents, pages and dumps."""
    import uvicorn

    settings = load_settings().with_overrides(
        host=host,
        port=port,
        public_base_url=base_url,
        sparql_backend=sparql_backend,
        query_timeout=query_timeout,
        max_rows=max_rows,
        server_processes=processes,
        query_workers=workers,
        service_allow=tuple(service_allow) if service_allow else None,
        service_allow_private=service_allow_private,
        service_timeout=service_timeout,
    )
    count = settings.serving_processes
    application: Any
    if count > 1:
        # Each process is a fresh interpreter (spawned): it reads these settings back.
        os.environ.update(settings.environment())
        application = f"{__name__}:create_served_app"
    else:
        application = create_served_app(settings)
    uvicorn.run(
        application,
        factory=count > 1,
        workers=count if count > 1 else None,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=HTTP_PROTOCOLS.get(settings.http_parser, settings.http_parser),
        h11_max_incomplete_event_size=4 * settings.max_header_bytes,
        proxy_headers=False,
        server_header=False,
        access_log=False,  # the app writes its own structured access log
        timeout_keep_alive=int(settings.keep_alive_timeout),
        # The cap is the whole server's: each process takes its share.
        limit_concurrency=max(1, settings.max_connections // count),
        log_level="warning",
    )
