"""`engagements serve`: the web app on uvicorn, over the published build."""

from __future__ import annotations

from typing import Annotated

import typer

from defence_engagements.cli import app
from defence_engagements.query import QueryExecutor
from defence_engagements.query.service_policy import ServicePolicy
from defence_engagements.settings import Settings, load_settings


def build_executor(settings: Settings) -> QueryExecutor:
    """The executor the server runs queries with: worker processes unless told otherwise."""
    policy = ServicePolicy(
        allow=settings.service_allow, allow_private=settings.service_allow_private
    )
    if settings.sparql_backend:
        from defence_engagements.query.remote import remote_executor_for

        return remote_executor_for(settings, policy)
    if settings.query_workers > 0:
        from defence_engagements.query.pool import WorkerPoolExecutor

        return WorkerPoolExecutor(
            settings.current_build,
            workers=settings.query_workers,
            policy=policy,
            service_timeout=settings.service_timeout,
            queue_timeout=settings.query_queue_timeout,
            max_query_length=settings.max_query_length,
        )
    from defence_engagements.query.inprocess import InProcessExecutor

    return InProcessExecutor(settings.current_build, policy=policy)


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
) -> None:
    """Serve the SPARQL endpoint, linked-data documents, pages and dumps."""
    import uvicorn

    from defence_engagements.web.app import create_app

    settings = load_settings().with_overrides(
        host=host, port=port, public_base_url=base_url, sparql_backend=sparql_backend
    )
    application = create_app(settings, build_executor(settings))
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        proxy_headers=False,
        server_header=False,
        access_log=False,  # the app writes its own structured access log
        timeout_keep_alive=int(settings.keep_alive_timeout),
        limit_concurrency=settings.max_connections,
        log_level="warning",
    )
