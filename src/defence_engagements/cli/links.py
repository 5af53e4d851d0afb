"""`engagements links check|suggest|accept`: Wikidata links with evidence."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from defence_engagements.cli import app
from defence_engagements.links.cache import CACHE_SUBDIR, ResponseCache
from defence_engagements.links.wikidata_client import RetryPolicy, WikidataClient
from defence_engagements.settings import Settings, load_settings

links_app = typer.Typer(
    name="links",
    help="Check, suggest and accept links to Wikidata items.",
    no_args_is_help=True,
)
app.add_typer(links_app)
console = Console(highlight=False)

EndpointOption = Annotated[
    str | None,
    typer.Option(help="Wikidata SPARQL endpoint (default: settings.wikidata_endpoint)."),
]
RefreshOption = Annotated[
    bool, typer.Option("--refresh", help="Ask the endpoint again instead of the on-disk cache.")
]


def _client(settings: Settings, endpoint: str | None, refresh: bool) -> WikidataClient:
    return WikidataClient(
        endpoint or settings.wikidata_endpoint,
        user_agent=settings.user_agent,
        timeout=settings.wikidata_timeout,
        retry=RetryPolicy(
            retries=settings.wikidata_retries,
            backoff=settings.wikidata_backoff,
            max_wait=settings.wikidata_max_wait,
        ),
        cache=ResponseCache(settings.build_path / CACHE_SUBDIR, ttl=settings.wikidata_cache_ttl),
        refresh=refresh,
    )


def _short(iri: str, settings: Settings) -> str:
    return iri.removeprefix(settings.base_iri + "id/")


@links_app.command()
def check(
    endpoint: EndpointOption = None,
    refresh: RefreshOption = False,
    strict: Annotated[
        bool, typer.Option(help="Fail on warnings (weak label matches) too.")
    ] = False,
) -> None:
    """Re-verify every link in data/ against Wikidata.

    Each item must exist, not be a redirect, carry the expected name among its
    labels or aliases (any language) and be of a plausible type. Every problem is
    named with its QID. Exit 1 if there is any, 2 if the endpoint is unreachable.
    Answers are cached under build/cache/links.
    """
    from defence_engagements.links.check import check_links
    from defence_engagements.links.records import load_data

    settings = load_settings()
    data = load_data(settings.data_path)
    with _client(settings, endpoint, refresh) as client:
        report = check_links(data, client, batch_size=settings.wikidata_batch_size)
        sent = client.requests_sent
        target = client.endpoint
    for finding in report.findings:
        style = "red" if finding.severity.value == "problem" else "yellow"
        console.print(
            f"[{style}]{finding.severity.value:>7}[/] {finding.qid:<11} "
            f"{escape(_short(finding.entity, settings))}: {finding.code}: "
            f"{escape(finding.message)}",
            soft_wrap=True,
        )
    cached = "all answers from the cache" if sent == 0 else f"{sent} request(s)"
    console.print(
        f"checked {report.links} link(s) against {target}: {len(report.problems)} problem(s), "
        f"{len(report.warnings)} warning(s); {cached}",
        soft_wrap=True,
    )
    if report.problems or (strict and report.warnings):
        raise typer.Exit(1)
