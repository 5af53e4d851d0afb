"""`engagements links check|suggest|accept`: Wikidata links with evidence."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from defence_engagements.cli import app
from defence_engagements.errors import ConfigurationError
from defence_engagements.links.cache import CACHE_SUBDIR, ResponseCache
from defence_engagements.links.records import DataGraph, LinkRecord
from defence_engagements.links.wikidata_client import RetryPolicy, WikidataClient
from defence_engagements.settings import Settings, load_settings

links_app = typer.Typer(
    name="links",
    help="Check, suggest and accept links to Wikidata items.",
    no_args_is_help=True,
)
app.add_typer(links_app)
console = Console(highlight=False)


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


EndpointOption = Annotated[
    str | None,
    typer.Option(help="Wikidata SPARQL endpoint (default: settings.wikidata_endpoint)."),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only problems (check) or the summary.")
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
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="text for people, json for tools.")
    ] = OutputFormat.TEXT,
    quiet: QuietOption = False,
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
    failed = bool(report.problems or (strict and report.warnings))
    if output_format is OutputFormat.JSON:
        typer.echo(
            json.dumps(
                {
                    "endpoint": target,
                    "links": report.links,
                    "requests": sent,
                    "problems": len(report.problems),
                    "warnings": len(report.warnings),
                    "findings": [finding.as_json() for finding in report.findings],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        raise typer.Exit(1 if failed else 0)
    for finding in report.findings:
        if quiet and not strict and finding.severity.value != "problem":
            continue
        style = "red" if finding.severity.value == "problem" else "yellow"
        console.print(
            f"[{style}]{finding.severity.value:>7}[/] {finding.qid:<11} "
            f"{escape(_short(finding.entity, settings))}: {finding.code}: "
            f"{escape(finding.message)}",
            soft_wrap=True,
        )
    if quiet and not failed:
        return
    cached = "all answers from the cache" if sent == 0 else f"{sent} request(s)"
    console.print(
        f"checked {report.links} link(s) against {target}: {len(report.problems)} problem(s), "
        f"{len(report.warnings)} warning(s); {cached}",
        soft_wrap=True,
    )
    if failed:
        raise typer.Exit(1)


def _suggestable(kinds: list[str] | None) -> tuple[str, ...]:
    from defence_engagements.links.expected_types import SUGGESTABLE_TYPES

    unknown = sorted(set(kinds or ()) - set(SUGGESTABLE_TYPES))
    if unknown:
        raise ConfigurationError(
            f"cannot suggest for type(s) {', '.join(unknown)}; "
            f"choose from {', '.join(SUGGESTABLE_TYPES)}"
        )
    return tuple(kinds) if kinds else SUGGESTABLE_TYPES


@links_app.command()
def suggest(
    endpoint: EndpointOption = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Review file to write (TSV; default build/links/suggestions.tsv)."),
    ] = None,
    language: Annotated[
        list[str] | None,
        typer.Option(help="Label languages to look up besides each name's own (default en, mul)."),
    ] = None,
    entity_type: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            help="Only entities of this type: person, organization, place, country (repeatable).",
        ),
    ] = None,
    refresh: RefreshOption = False,
    quiet: QuietOption = False,
) -> None:
    """Propose Wikidata items for people, organisations, places and countries without a link.

    Candidates are found by exact label or alias, scored by name, type and context,
    and written to a review file with the command that accepts each one. Nothing is
    published until a person runs `engagements links accept`.
    """
    from defence_engagements.links.records import load_data
    from defence_engagements.links.suggest import (
        DEFAULT_LANGUAGES,
        suggest_links,
        write_review_file,
    )

    settings = load_settings()
    data = load_data(settings.data_path)
    target = out or settings.build_path / "links" / "suggestions.tsv"
    with _client(settings, endpoint, refresh) as client:
        suggestions = suggest_links(
            data,
            client,
            kinds=_suggestable(entity_type),
            languages=tuple(language or DEFAULT_LANGUAGES),
            batch_size=settings.wikidata_batch_size,
        )
    rows = write_review_file(suggestions, target, short=lambda iri: _short(iri, settings))
    for suggestion in suggestions if not quiet else ():
        best = suggestion.candidates[0] if suggestion.candidates else None
        more = len(suggestion.candidates) - 1
        shown = (
            f"{best.qid} {escape(best.label)} (score {best.score:.2f}"
            f"{f', {more} more' if more else ''})"
            if best
            else "[dim]no candidate[/]"
        )
        console.print(f"{escape(_short(suggestion.entity, settings)):<45} {shown}", soft_wrap=True)
    console.print(
        f"{len(suggestions)} unlinked entit{'y' if len(suggestions) == 1 else 'ies'}, "
        f"{rows} candidate(s) written to {target}; review, then `engagements links accept`",
        soft_wrap=True,
    )


@links_app.command()
def accept(
    entity: Annotated[
        str, typer.Argument(help="Our entity: TYPE/SLUG (e.g. person/gen-nakatani) or its IRI.")
    ],
    qid: Annotated[str, typer.Argument(help="The Wikidata item, e.g. Q5530859.")],
    label_seen: Annotated[
        str | None,
        typer.Option(help="The label or alias seen on the item (default: the entity's name)."),
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="Language tag of --label-seen (default en).")
    ] = None,
    evidence: Annotated[
        str | None,
        typer.Option(
            help="Where the item was seen paired with the entity (required; kept with the link)."
        ),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            "--verify",
            help="Ask the endpoint first; refuse an item that is missing, merged, "
            "of the wrong type or without the label seen.",
        ),
    ] = False,
    endpoint: EndpointOption = None,
) -> None:
    """Write a reviewed link and its evidence into data/wikidata-links.ttl.

    Refuses a malformed QID, an entity that already has a link, and an item that is
    already linked from another entity. Run `engagements links check` afterwards.
    """
    from defence_engagements.links.accept import accept_link
    from defence_engagements.links.check import verify_one

    settings = load_settings()
    client = _client(settings, endpoint, refresh=True) if verify else None

    def verifier(data: DataGraph, record: LinkRecord) -> list[str]:
        assert client is not None
        return [f"{f.qid}: {f.code}: {f.message}" for f in verify_one(client, data, record)]

    try:
        accepted = accept_link(
            settings.data_path,
            entity,
            qid,
            base=settings.base_iri,
            label_seen=label_seen,
            language=language,
            evidence=evidence,
            verify=verifier if client else None,
        )
    finally:
        if client:
            client.close()
    console.print(
        f"linked {escape(_short(accepted.entity, settings))} to {accepted.item} in {accepted.path}",
        soft_wrap=True,
    )
