"""The SPARQL 1.1 Protocol query operation at ``/sparql``.

A request becomes a :class:`~defence_engagements.query.QueryRequest` carrying the
negotiated format for *both* result kinds (the kind is only known once the query is
parsed); the executor runs it and says what it produced. Results are cached by
ETag: the build version, the query, the dataset and the formats determine the
answer, so a repeated request is answered 304 without running anything (queries
whose answer can change within a build — SERVICE, NOW(), RAND()… — get no ETag).
"""

from __future__ import annotations

import re
from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response

from defence_engagements.errors import EngagementsError, NotAcceptableError, QuerySyntaxError
from defence_engagements.query import QueryRequest, QueryResponse
from defence_engagements.web import negotiation
from defence_engagements.web.caching import (
    READ_HEADERS,
    build_etag,
    cached_headers,
    matches_if_none_match,
    not_modified,
)
from defence_engagements.web.context import WebContext
from defence_engagements.web.errors import MethodNotAllowedError, ProtocolError, error_response
from defence_engagements.web.examples import load_example_queries
from defence_engagements.web.protocol import ProtocolRequest, read_protocol_request
from defence_engagements.web.rendering import render_page
from defence_engagements.web.service_description import service_description

_VOLATILE = re.compile(r"\b(SERVICE|NOW|RAND|UUID|STRUUID|BNODE)\b", re.IGNORECASE)


def _context(request: Request) -> WebContext:
    return request.app.state.context  # type: ignore[no-any-return]


async def sparql_endpoint(request: Request) -> Response:
    context = _context(request)
    try:
        if request.method not in ("GET", "HEAD", "POST"):
            raise MethodNotAllowedError(f"{request.method} is not a SPARQL query operation")
        body = await request.body() if request.method == "POST" else b""
        protocol = read_protocol_request(
            request.method,
            request.url.query,
            request.headers.get("content-type"),
            body,
        )
        if protocol.query is None:
            if request.method == "POST":
                raise ProtocolError("the request has no query parameter")
            return await _describe_service(request, context)
        if request.method == "GET" and _wants_query_page(protocol, request.headers.get("accept")):
            return _query_page(request, context, protocol.query)
        return await _answer(request, context, protocol)
    except EngagementsError as error:
        return error_response(request, error)


def _wants_query_page(protocol: ProtocolRequest, accept: str | None) -> bool:
    """A shared /sparql?query=… link opened in a browser gets the page, running it."""
    return protocol.format_override is None and negotiation.prefers_html(accept)


def _timeout(protocol: ProtocolRequest, maximum: float) -> float:
    if protocol.timeout is None or not protocol.timeout.strip():
        return maximum
    try:
        wanted = float(protocol.timeout)
    except ValueError:
        raise ProtocolError(f"timeout={protocol.timeout!r} is not a number of seconds") from None
    if not wanted > 0:
        raise ProtocolError("timeout must be a positive number of seconds")
    return min(wanted, maximum)


async def _answer(request: Request, context: WebContext, protocol: ProtocolRequest) -> Response:
    query_request, etag = _prepared(context, protocol, request.headers.get("accept"))
    if etag is not None:
        if matches_if_none_match(request, etag):
            return not_modified(etag)
        remembered = _remembered(context, etag)
        if remembered is not None:
            return remembered
    response = await _execute_with_service_base(context, query_request)
    return _answered(context, etag, response)


def answer_without_waiting(
    context: WebContext, protocol: ProtocolRequest, accept: str | None
) -> Response | None:
    """The answer to a GET of ``protocol`` when nothing has to be waited for: from the
    answer memo, or from an executor that answers it here (a bounded query,
    query/bounded.py); the same response :func:`sparql_endpoint` gives. None when the
    request is the endpoint's to answer: pages, service descriptions, errors, queries
    for the workers. The fast lane (web/fast_lane.py) calls it without running ASGI,
    for requests without conditional headers."""
    answer_here = getattr(context.executor, "answer_here", None)
    if answer_here is None or protocol.query is None:
        return None
    if _wants_query_page(protocol, accept):
        return None
    try:
        query_request, etag = _prepared(context, protocol, accept)
        remembered = _remembered(context, etag) if etag is not None else None
        if remembered is not None:
            return remembered
        response = answer_here(query_request)
    except EngagementsError:
        return None  # the endpoint words the error, as for every other request
    return None if response is None else _answered(context, etag, response)


def _prepared(
    context: WebContext, protocol: ProtocolRequest, accept: str | None
) -> tuple[QueryRequest, str | None]:
    """The query to run, and its ETag (None when its answer may change within a build)."""
    assert protocol.query is not None
    results_format, graph_format = negotiation.negotiate_query_formats(
        accept, protocol.format_override
    )
    if results_format is None and graph_format is None:
        raise NotAcceptableError(
            "none of the accepted media types is a SPARQL results or RDF format; "
            "try application/sparql-results+json or text/turtle"
        )
    settings = context.settings
    query_request = QueryRequest(
        query=protocol.query,
        results_format=results_format,
        graph_format=graph_format,
        default_graph_uris=protocol.default_graph_uris,
        named_graph_uris=protocol.named_graph_uris,
        timeout=_timeout(protocol, settings.query_timeout),
        max_rows=settings.max_rows,
    )
    if _VOLATILE.search(protocol.query):
        return query_request, None
    etag = build_etag(
        context.builds.current().version,
        protocol.query,
        "|".join(protocol.default_graph_uris),
        "|".join(protocol.named_graph_uris),
        results_format.name if results_format else "-",
        graph_format.name if graph_format else "-",
        str(settings.max_rows),
    )
    return query_request, etag


def _remembered(context: WebContext, etag: str) -> Response | None:
    remembered = context.answers.get(etag)
    if remembered is None:
        return None
    body, media_type, extra = remembered
    headers = {**cached_headers(etag), **dict(extra), "X-Cache": "hit"}
    return Response(body, headers=headers, media_type=media_type)


def _answered(context: WebContext, etag: str | None, response: QueryResponse) -> Response:
    """The response for an answer just computed; remembered when it has an ETag."""
    settings = context.settings
    extra: dict[str, str] = {}
    if response.truncated:
        extra["X-Result-Truncated"] = "true"
        extra["X-Result-Limit"] = str(settings.max_rows)
        extra["Warning"] = (
            f'199 - "results truncated: only the first {response.rows} are included '
            f"(the server's limit is {settings.max_rows})\""
        )
    media_type = response.format.content_type
    if etag is None:
        headers = {**READ_HEADERS, "Cache-Control": "no-store", **extra}
    else:
        headers = {**cached_headers(etag), **extra, "X-Cache": "miss"}
        if len(response.body) <= settings.answer_memo_entry_bytes:
            context.answers.put(etag, (response.body, media_type, tuple(extra.items())))
    return Response(response.body, headers=headers, media_type=media_type)


async def _execute_with_service_base(context: WebContext, request: QueryRequest) -> QueryResponse:
    """Run the query; relative IRIs resolve against the endpoint URL (the protocol's
    service-defined base). Only a query that fails to parse without a base is run
    again with one, so parser messages keep the positions the client sent."""
    try:
        return await context.executor.execute(request)
    except QuerySyntaxError as error:
        if "IRI" not in error.message:
            raise
        based = replace(request, query=f"BASE <{context.urls.url('sparql')}>\n{request.query}")
        try:
            return await context.executor.execute(based)
        except QuerySyntaxError:
            raise error from None


def _query_page(request: Request, context: WebContext, query: str | None) -> Response:
    return render_page(
        request,
        "query.html",
        {
            "examples": load_example_queries(context.settings.queries_path),
            "title": "Query the data",
            "canonical_base": context.urls.canonical_base,
            "initial_query": query,
        },
    )


async def _describe_service(request: Request, context: WebContext) -> Response:
    accept = request.headers.get("accept")
    if negotiation.prefers_html(accept):
        return _query_page(request, context, None)
    fmt = negotiation.negotiate(accept, negotiation.RDF_OFFER)
    if fmt is None:
        raise NotAcceptableError(
            "the service description is available as Turtle, N-Triples, JSON-LD, RDF/XML or HTML"
        )
    build = context.builds.current()
    etag = build_etag(build.version, "service-description", fmt.name, context.urls.serving_base)
    if matches_if_none_match(request, etag):
        return not_modified(etag)
    body = service_description(context.urls, build, fmt)
    return Response(body, headers=cached_headers(etag), media_type=fmt.content_type)
