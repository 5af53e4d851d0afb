"""The human pages: home (engagements by date, with filters) and one page per resource.

Engagements, people, organisations, countries and places get their own templates;
anything else gets the generic resource page. Every page links its RDF versions
with ``<link rel="alternate">``.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any
from urllib.parse import urlencode

import pyoxigraph
from starlette.requests import Request
from starlette.responses import Response

from defence_engagements import formats
from defence_engagements.errors import EngagementsError
from defence_engagements.namespaces import DEX, SLUG_PATTERN
from defence_engagements.web import page_queries
from defence_engagements.web.caching import build_etag, matches_if_none_match, not_modified
from defence_engagements.web.context import WebContext
from defence_engagements.web.dates import format_date
from defence_engagements.web.errors import error_response
from defence_engagements.web.rendering import render_page
from defence_engagements.web.resource_view import build_view

_TEMPLATES = {"engagement": "engagement.html", "person": "person.html"}
# Things engagements refer to: their page lists those engagements first.
_ENGAGED_KINDS = ("organization", "country", "place", "topic", "engagement-type", "source", "post")


def alternates(kind: str, slug: str) -> list[dict[str, str]]:
    return [
        {"href": f"doc/{kind}/{slug}.{fmt.extension}", "type": fmt.media_type, "name": fmt.name}
        for fmt in formats.GRAPH_FORMATS
    ]


PAGE_SIZE = 100


def _chosen_filter(params: Any) -> tuple[dict[str, str], page_queries.EngagementFilter, int]:
    """The filters as asked (for the form) and as used (only well-formed values count)."""
    chosen = {name: str(params.get(name, "")).strip() for name in ("country", "type", "year")}
    valid = page_queries.EngagementFilter(
        country=chosen["country"] if SLUG_PATTERN.match(chosen["country"]) else None,
        engagement_type=chosen["type"] if SLUG_PATTERN.match(chosen["type"]) else None,
        year=chosen["year"] if re.fullmatch(r"\d{4}", chosen["year"]) else None,
    )
    page = str(params.get("page", "1"))
    number = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    return chosen, valid, number


async def home(request: Request) -> Response:
    context: WebContext = request.app.state.context
    chosen, valid, page = _chosen_filter(request.query_params)
    try:
        build = context.builds.current()
        etag = build_etag(build.version, "home", str(sorted(chosen.items())), str(page))
        if matches_if_none_match(request, etag):
            return not_modified(etag)
        engagements = await page_queries.engagement_page(
            context.executor, valid, (page - 1) * PAGE_SIZE, PAGE_SIZE
        )
        matching = await page_queries.count_engagements(context.executor, valid)
        everything = page_queries.EngagementFilter()
        total = (
            matching
            if valid == everything
            else await page_queries.count_engagements(context.executor, everything)
        )
        countries = await page_queries.facets(context.executor, "involvesCountry")
        types = await page_queries.facets(context.executor, "engagementType")
        years = await page_queries.engagement_years(context.executor)
    except EngagementsError as error:
        return error_response(request, error)
    query = {k: v for k, v in chosen.items() if v}
    pages = max(1, -(-matching // PAGE_SIZE))
    return render_page(
        request,
        "home.html",
        {
            "title": "Defence engagements",
            "engagements": engagements,
            "matching": matching,
            "total": total,
            "countries": countries,
            "types": types,
            "years": years,
            "chosen": chosen,
            "build": build,
            "page": page,
            "pages": pages,
            "first_shown": (page - 1) * PAGE_SIZE + 1,
            "previous_link": urlencode({**query, "page": page - 1}) if page > 1 else None,
            "next_link": urlencode({**query, "page": page + 1}) if page < pages else None,
        },
        headers={"ETag": etag},
    )


async def render_resource_page(
    request: Request,
    context: WebContext,
    resource: str,
    kind: str,
    triples: list[pyoxigraph.Triple],
    headers: dict[str, str],
) -> Response:
    view = build_view(resource, triples)
    slug = resource.rsplit("/", 1)[-1]
    values: dict[str, Any] = {
        "title": view.label,
        "view": view,
        "kind": kind,
        "slug": slug,
        "alternates": alternates(kind, slug),
        "dex": DEX,
        "format_date": format_date,
    }
    template = _TEMPLATES.get(kind, "entity.html" if kind in _ENGAGED_KINDS else "resource.html")
    # The page's queries are independent: asked together, they run on several workers.
    sections: dict[str, Any] = {"wikidata": page_queries.wikidata_links}
    if kind == "engagement":
        sections["participants"] = page_queries.participants
        sections["quotes"] = page_queries.quotes
        sections["related"] = page_queries.related_engagements
        sections["claims"] = page_queries.claims
    elif kind == "person" or kind in _ENGAGED_KINDS:
        sections["engagements"] = page_queries.engagements_about
        if kind == "person":
            sections["posts"] = page_queries.posts_held
    answers = await asyncio.gather(*(ask(context.executor, resource) for ask in sections.values()))
    values.update(zip(sections, answers, strict=True))
    return render_page(request, template, values, headers=headers)
