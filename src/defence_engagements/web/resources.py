"""Dereferencing: ``/id/{kind}/{slug}`` → 303 → ``/doc/{kind}/{slug}[.ext]``.

The ``/id/`` URL names the thing; it answers 303 See Other to the document in the
format the client prefers (the extension makes each document URL one fixed
representation, which caches and static hosting handle well). ``/doc/…`` without
an extension negotiates too and says which variant it sent in Content-Location.
Unknown things get a 404 page that suggests the nearest known ones.
"""

from __future__ import annotations

import difflib

import pyoxigraph
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from defence_engagements import formats
from defence_engagements.errors import EngagementsError, NotAcceptableError
from defence_engagements.formats import Format
from defence_engagements.namespaces import BASE, PREFIXES, SLUG_PATTERN
from defence_engagements.web import negotiation
from defence_engagements.web.caching import (
    READ_HEADERS,
    build_etag,
    cached_headers,
    matches_if_none_match,
    not_modified,
)
from defence_engagements.web.context import WebContext
from defence_engagements.web.data_access import select
from defence_engagements.web.description import describe
from defence_engagements.web.errors import error_response
from defence_engagements.web.pages import render_resource_page
from defence_engagements.web.rendering import render_page

FOAF = "http://xmlns.com/foaf/0.1/"
DCTERMS = "http://purl.org/dc/terms/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"


def _context(request: Request) -> WebContext:
    return request.app.state.context  # type: ignore[no-any-return]


# Larger documents (a hub linked from thousands of things) are cheaper to rebuild
# than to keep: the memo stays bounded in bytes as well as in entries.
_MAX_REMEMBERED_BYTES = 256_000


def _remember(context: WebContext, etag: str, body: bytes) -> None:
    if len(body) <= _MAX_REMEMBERED_BYTES:
        context.pages.put(etag, body)


def _valid(kind: str, slug: str) -> bool:
    return bool(SLUG_PATTERN.match(kind) and SLUG_PATTERN.match(slug))


async def _description(context: WebContext, canonical: str) -> list[pyoxigraph.Triple]:
    version = context.builds.current().version
    return await context.descriptions.get_or_compute(
        (version, canonical), lambda: describe(context.executor, canonical)
    )


def _split_name(name: str) -> tuple[str, Format | None, bool]:
    """``x.ttl`` → ("x", Turtle, True); ``x`` → ("x", None, False)."""
    stem, dot, extension = name.rpartition(".")
    if dot:
        fmt = negotiation.format_for_extension(extension, negotiation.DOCUMENT_OFFER)
        if fmt is not None:
            return stem, fmt, True
    return name, None, False


async def thing(request: Request) -> Response:
    """``/id/{kind}/{slug}`` → 303 to the document in the negotiated format."""
    context = _context(request)
    kind, slug = request.path_params["kind"], request.path_params["slug"]
    try:
        canonical = f"{BASE}id/{kind}/{slug}"
        if not _valid(kind, slug) or not await _description(context, canonical):
            return await _not_found(request, context, kind, slug)
        fmt = negotiation.negotiate(request.headers.get("accept"), negotiation.DOCUMENT_OFFER)
        if fmt is None:
            raise NotAcceptableError(
                "this resource is described in HTML, Turtle, N-Triples, JSON-LD and RDF/XML"
            )
        location = context.urls.url(f"doc/{kind}/{slug}.{fmt.extension}")
        return RedirectResponse(
            location, status_code=303, headers={**READ_HEADERS, "Cache-Control": CACHE_303}
        )
    except EngagementsError as error:
        return error_response(request, error)


CACHE_303 = "public, max-age=3600"


async def document(request: Request) -> Response:
    """``/doc/{kind}/{slug}[.ext]``: the description of ``/id/{kind}/{slug}``."""
    context = _context(request)
    kind = request.path_params["kind"]
    slug, fmt, explicit = _split_name(request.path_params["name"])
    try:
        canonical = f"{BASE}id/{kind}/{slug}"
        if fmt is None:
            fmt = negotiation.negotiate(request.headers.get("accept"), negotiation.DOCUMENT_OFFER)
            if fmt is None:
                raise NotAcceptableError(
                    "this document is available as HTML, Turtle, N-Triples, JSON-LD and RDF/XML"
                )
        if not _valid(kind, slug):
            return await _not_found(request, context, kind, slug)
        build = context.builds.current()
        etag = build_etag(build.version, "doc", canonical, fmt.name, context.urls.serving_base)
        extra = (
            {}
            if explicit
            else {"Content-Location": context.urls.url(f"doc/{kind}/{slug}.{fmt.extension}")}
        )
        if matches_if_none_match(request, etag):
            return not_modified(etag, extra)
        headers = cached_headers(etag, extra)
        rendered = context.pages.get(etag)
        if rendered is not None:
            return Response(rendered, headers=headers, media_type=fmt.content_type)
        triples = await _description(context, canonical)
        if not triples:
            return await _not_found(request, context, kind, slug)
        if fmt is formats.HTML:
            page = await render_resource_page(request, context, canonical, kind, triples, headers)
            _remember(context, etag, bytes(page.body))
            return page
        body = serialize_document(canonical, f"{BASE}doc/{kind}/{slug}", triples, fmt)
        _remember(context, etag, body)
        return Response(body, headers=headers, media_type=fmt.content_type)
    except EngagementsError as error:
        return error_response(request, error)


def serialize_document(
    resource: str, document_iri: str, triples: list[pyoxigraph.Triple], fmt: Format
) -> bytes:
    doc = pyoxigraph.NamedNode(document_iri)
    about = [
        pyoxigraph.Triple(
            doc, pyoxigraph.NamedNode(RDF_TYPE), pyoxigraph.NamedNode(FOAF + "Document")
        ),
        pyoxigraph.Triple(
            doc, pyoxigraph.NamedNode(FOAF + "primaryTopic"), pyoxigraph.NamedNode(resource)
        ),
    ]
    return (
        pyoxigraph.serialize([*about, *triples], format=fmt.oxigraph_rdf, prefixes=PREFIXES) or b""
    )


async def _not_found(request: Request, context: WebContext, kind: str, slug: str) -> Response:
    prefix = f"{BASE}id/{kind}/"
    known: list[str] = []
    if SLUG_PATTERN.match(kind):  # only a well-formed kind goes into a query
        rows = await select(
            context.executor,
            f"""SELECT DISTINCT ?s WHERE {{ ?s ?p ?o
            FILTER(isIRI(?s) && STRSTARTS(STR(?s), "{prefix}")) }} LIMIT 2000""",
        )
        known = sorted(row["s"].value[len(prefix) :] for row in rows if "s" in row)
    nearest = difflib.get_close_matches(slug, known, n=5, cutoff=0.3)
    return render_page(
        request,
        "not_found.html",
        {
            "title": "Not found",
            "kind": kind,
            "slug": slug,
            "suggestions": [f"{prefix}{name}" for name in nearest],
            "known_count": len(known),
        },
        status_code=404,
        headers={"Cache-Control": "no-cache"},
    )
