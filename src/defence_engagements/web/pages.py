"""The human pages: home (engagements by date, with filters) and one page per resource.

Engagements, people, organisations, countries and places get their own templates;
anything else gets the generic resource page. Every page links its RDF versions
with ``<link rel="alternate">``.
"""

from __future__ import annotations

from typing import Any

import pyoxigraph
from starlette.requests import Request
from starlette.responses import Response

from defence_engagements import formats
from defence_engagements.errors import EngagementsError
from defence_engagements.namespaces import BASE, DEX
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


async def home(request: Request) -> Response:
    context: WebContext = request.app.state.context
    params = request.query_params
    chosen = {name: params.get(name, "").strip() for name in ("country", "type", "year")}
    try:
        build = context.builds.current()
        etag = build_etag(build.version, "home", str(sorted(chosen.items())))
        if matches_if_none_match(request, etag):
            return not_modified(etag)
        engagements = await page_queries.all_engagements(context.executor)
        countries = await page_queries.facets(context.executor, "involvesCountry")
        types = await page_queries.facets(context.executor, "engagementType")
    except EngagementsError as error:
        return error_response(request, error)
    years = sorted({e.year for e in engagements if e.year}, reverse=True)
    shown = [
        e
        for e in engagements
        if (not chosen["country"] or f"{BASE}id/country/{chosen['country']}" in e.countries)
        and (not chosen["type"] or (e.type_iri or "").endswith("/" + chosen["type"]))
        and (not chosen["year"] or e.year == chosen["year"])
    ]
    return render_page(
        request,
        "home.html",
        {
            "title": "Defence engagements",
            "engagements": shown,
            "total": len(engagements),
            "countries": countries,
            "types": types,
            "years": years,
            "chosen": chosen,
            "build": build,
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
        "wikidata": await page_queries.wikidata_links(context.executor, resource),
    }
    template = _TEMPLATES.get(kind, "entity.html" if kind in _ENGAGED_KINDS else "resource.html")
    if kind == "engagement":
        values["participants"] = await page_queries.participants(context.executor, resource)
        values["quotes"] = await page_queries.quotes(context.executor, resource)
        values["related"] = await page_queries.related_engagements(context.executor, resource)
        values["claims"] = await page_queries.claims(context.executor, resource)
    elif kind == "person" or kind in _ENGAGED_KINDS:
        values["engagements"] = await page_queries.engagements_about(context.executor, resource)
        if kind == "person":
            values["posts"] = await page_queries.posts_held(context.executor, resource)
    return render_page(request, template, values, headers=headers)
