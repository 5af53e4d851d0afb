"""`engagements push` and `engagements publish`: distribution beyond the embedded store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from defence_engagements.cli import app, err_console
from defence_engagements.errors import ConfigurationError
from defence_engagements.namespaces import GRAPH
from defence_engagements.publish.graph_store import Compression, GraphStoreClient, RetryPolicy
from defence_engagements.publish.push import (
    RemoteCounter,
    check_counts,
    graphs_to_push,
    local_count,
    push_build,
)
from defence_engagements.publish.store_layouts import derive_sparql_endpoint
from defence_engagements.query.http_auth import AuthScheme, RemoteCredentials
from defence_engagements.settings import load_settings
from defence_engagements.store import open_published_build

console = Console(highlight=False)


def _short(iri: str) -> str:
    return iri.removeprefix(GRAPH) if iri.startswith(GRAPH) else iri


@app.command()
def push(
    store: Annotated[
        str,
        typer.Option(
            help="Graph Store Protocol URL of the remote store, e.g. http://host:7878/store "
            "(Oxigraph) or http://host:3030/ds/data (Fuseki)."
        ),
    ],
    sparql: Annotated[
        str | None,
        typer.Option(
            help="SPARQL query endpoint used to check the counts; derived from --store "
            "for Oxigraph, Fuseki, GraphDB, Virtuoso and Neptune layouts."
        ),
    ] = None,
    user: Annotated[str | None, typer.Option(help="User name for HTTP authentication.")] = None,
    password_env: Annotated[
        str | None,
        typer.Option(help="Name of the environment variable holding the password."),
    ] = None,
    digest: Annotated[
        bool, typer.Option(help="Use HTTP Digest instead of Basic (Virtuoso).")
    ] = False,
    token_env: Annotated[
        str | None,
        typer.Option(help="Name of the environment variable holding an access token."),
    ] = None,
    token_scheme: Annotated[
        str, typer.Option(help="Authorization scheme sent with the token (GraphDB uses GDB).")
    ] = "Bearer",
    compression: Annotated[
        Compression,
        typer.Option(help="gzip request bodies; 'auto' falls back when the store refuses."),
    ] = Compression.AUTO,
    retries: Annotated[
        int | None, typer.Option(min=0, help="Retries per request after a failure.")
    ] = None,
    bwlimit: Annotated[
        int | None, typer.Option(min=1, help="Upload at most this many KiB per second.")
    ] = None,
    check_only: Annotated[
        bool,
        typer.Option(
            help="Upload nothing; only compare the store's counts with the build "
            "(for stores loaded from the dumps, e.g. QLever)."
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Upload every named graph of the published build to a SPARQL 1.1 store.

    Each graph replaces its namesake on the store (Graph Store Protocol PUT), so
    pushing again is safe. Exits 1 when an upload fails or a count differs.
    """
    settings = load_settings()
    if sparql is None:
        derived = derive_sparql_endpoint(store)
        if derived is None:
            raise ConfigurationError(
                f"cannot tell the SPARQL endpoint of {store}; give it with --sparql"
            )
        sparql = derived[0]
    credentials = RemoteCredentials(
        user=user,
        password_env=password_env,
        token_env=token_env,
        token_scheme=token_scheme,
        scheme=AuthScheme.DIGEST if digest else AuthScheme.BASIC,
    )
    auth = credentials.to_auth()
    build = open_published_build(settings.current_build)
    counter = RemoteCounter(
        sparql, auth=auth, timeout=settings.remote_timeout, user_agent=settings.user_agent
    )
    try:
        if check_only:
            local = {iri: local_count(build.store, iri) for iri in graphs_to_push(build)}
            counts = check_counts(counter, local)
            if not quiet:
                for graph in counts:
                    console.print(f"{_short(graph.iri):>12}  {graph.local:>10,} triples  ok")
            console.print(f"{store}: all {len(counts)} graphs match build {build.version}")
            return
        retry = RetryPolicy(
            attempts=(settings.push_retries if retries is None else retries) + 1,
            backoff=settings.push_backoff,
        )
        with (
            GraphStoreClient(
                store,
                auth=auth,
                timeout=settings.remote_timeout,
                retry=retry,
                compression=compression,
                bytes_per_second=bwlimit * 1024 if bwlimit else None,
                user_agent=settings.user_agent,
            ) as client,
            _progress(quiet) as progress,
        ):
            total = sum(build.manifest.get("graphs", {}).values()) or None
            task = progress.add_task("push", total=total, graph="")

            def advance(iri: str, completed: int) -> None:
                progress.update(task, completed=completed, graph=_short(iri))

            report = push_build(build, client, counter, on_progress=advance)
            progress.update(task, completed=report.triples, total=report.triples, graph="")
    finally:
        counter.close()
    if not quiet:
        for graph in report.graphs:
            console.print(f"{_short(graph.iri):>12}  {graph.local:>10,} triples  ok")
    console.print(
        f"pushed build {build.version}: {report.triples:,} triples in {len(report.graphs)} "
        f"graphs to {store} in {report.elapsed:.1f} s"
        f"{' (gzip)' if report.compressed else ''}; counts match over {sparql}"
    )


def _progress(quiet: bool) -> Progress:
    return Progress(
        TextColumn("[bold]{task.fields[graph]:>12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("triples"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=True,
    )


@app.command()
def publish(
    static: Annotated[
        Path, typer.Option(help="Directory to write the static site into (replaced as a whole).")
    ],
    base_url: Annotated[
        str | None,
        typer.Option(
            help="Public URL the site will be served at, e.g. https://data.example.org/ "
            "(default: the canonical base, whose w3id redirect points at the host)."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Write the publication as a static site, with Apache and nginx configuration.

    Every page and document comes from the real web app, run in-process.
    """
    from defence_engagements.publish.static_site import write_static_site
    from defence_engagements.web.app import create_app

    settings = load_settings()
    public_base = (base_url or settings.public_base_url or settings.base_iri).rstrip("/") + "/"
    if not public_base.startswith(("http://", "https://")):
        raise ConfigurationError(f"--base-url must be an http(s) URL, not {public_base!r}")
    build = open_published_build(settings.current_build)
    # The app's access log would only repeat, line by line, what the progress bar counts.
    application = create_app(settings.with_overrides(public_base_url=public_base, access_log=False))
    with Progress(
        TextColumn("[bold]static site"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=True,
    ) as progress:
        task = progress.add_task("publish", total=None)
        report = write_static_site(
            application,
            build,
            static,
            base_url=public_base,
            on_progress=lambda done, known: progress.update(task, completed=done, total=known),
        )
    if report.broken_links:
        err_console.print(
            f"warning: {len(report.broken_links)} link(s) on the pages lead nowhere, "
            f"e.g. {report.broken_links[0]}",
            markup=False,
        )
    console.print(
        f"wrote {report.files:,} files for {report.resources:,} resources "
        f"({len(report.pages):,} pages) to {static} in {report.elapsed:.1f} s, "
        f"for {public_base}"
    )
