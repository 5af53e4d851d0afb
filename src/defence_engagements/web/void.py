"""``/.well-known/void``: the dataset's VoID description, with this server's URLs.

The description is the build's metadata graph (``graph/metadata``), read through
the executor. Its endpoint and dump links are written with canonical IRIs; here
they are resolved to the URL the server answers at, and an endpoint link is added
when the build did not state one.
"""

from __future__ import annotations

import pyoxigraph
from starlette.requests import Request
from starlette.responses import Response

from defence_engagements import formats
from defence_engagements.errors import EngagementsError, NotAcceptableError
from defence_engagements.namespaces import GRAPH_METADATA, PREFIXES
from defence_engagements.web import negotiation
from defence_engagements.web.caching import (
    build_etag,
    cached_headers,
    matches_if_none_match,
    not_modified,
)
from defence_engagements.web.context import WebContext
from defence_engagements.web.data_access import construct
from defence_engagements.web.errors import error_response
from defence_engagements.web.urls import UrlMapper

VOID = PREFIXES["void"]
DCAT = PREFIXES["dcat"]
RDF_TYPE = PREFIXES["rdf"] + "type"
_LOCATED = {
    VOID + "sparqlEndpoint",
    VOID + "dataDump",
    VOID + "uriLookupEndpoint",
    DCAT + "downloadURL",
    DCAT + "accessURL",
    DCAT + "endpointURL",
}


def resolve_void(triples: list[pyoxigraph.Triple], urls: UrlMapper) -> list[pyoxigraph.Triple]:
    resolved = []
    has_endpoint = False
    datasets = []
    for t in triples:
        obj = t.object
        if t.predicate.value in _LOCATED and isinstance(obj, pyoxigraph.NamedNode):
            obj = pyoxigraph.NamedNode(urls.to_serving(obj.value))
            has_endpoint |= t.predicate.value == VOID + "sparqlEndpoint"
        if t.predicate.value == RDF_TYPE and t.object.value == VOID + "Dataset":
            datasets.append(t.subject)
        resolved.append(pyoxigraph.Triple(t.subject, t.predicate, obj))
    if not has_endpoint:
        endpoint = pyoxigraph.NamedNode(urls.url("sparql"))
        resolved += [
            pyoxigraph.Triple(d, pyoxigraph.NamedNode(VOID + "sparqlEndpoint"), endpoint)
            for d in datasets
        ]
    return resolved


async def void_description(request: Request) -> Response:
    context: WebContext = request.app.state.context
    try:
        accept = request.headers.get("accept")
        fmt = negotiation.negotiate(accept, negotiation.RDF_OFFER)
        if fmt is None:
            if "html" not in (accept or "").lower():
                raise NotAcceptableError(
                    "the VoID description is offered as Turtle, N-Triples, JSON-LD and RDF/XML"
                )
            # A browser asking for HTML only gets Turtle, which it shows as text: more
            # useful to a person than a 406.
            fmt = formats.TURTLE
        build = context.builds.current()
        etag = build_etag(build.version, "void", fmt.name, context.urls.serving_base)
        if matches_if_none_match(request, etag):
            return not_modified(etag)
        triples = await construct(
            context.executor,
            f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{GRAPH_METADATA}> {{ ?s ?p ?o }} }}",
        )
        body = (
            pyoxigraph.serialize(
                resolve_void(triples, context.urls), format=fmt.oxigraph_rdf, prefixes=PREFIXES
            )
            or b""
        )
        return Response(body, headers=cached_headers(etag), media_type=fmt.content_type)
    except EngagementsError as error:
        return error_response(request, error)
