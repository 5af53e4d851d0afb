"""Reading a SPARQL 1.1 Protocol query request: which query, which dataset.

Pure functions over already-read request parts, so the rules are testable alone:
GET ``query=``; POST form-encoded; POST ``application/sparql-query`` (UTF-8). An
update in any form (``update=``, ``application/sparql-update``, or update text sent
as a query) is refused here, before anything could run it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

from defence_engagements.errors import UpdateNotAllowedError
from defence_engagements.web.errors import ProtocolError, UnsupportedMediaTypeError

FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"

_READ_ONLY = "this endpoint is read-only: SPARQL Update is not accepted"
_UPDATE_KEYWORDS = frozenset(
    {"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH"}
)
# Comments, strings and IRIs can hide keywords; drop them before looking.
_NOISE = re.compile(
    r"""#[^\n\r]*|'''.*?'''|\"\"\".*?\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|<[^<>\s]*>""",
    re.DOTALL,
)
_PROLOGUE = re.compile(r"\s*(?:(?:PREFIX\s+[^\s:]*:|BASE)\s*)", re.IGNORECASE)


@dataclass(frozen=True)
class ProtocolRequest:
    query: str | None  # None: no query (GET without query= → service description)
    default_graph_uris: tuple[str, ...] = ()
    named_graph_uris: tuple[str, ...] = ()
    format_override: str | None = None
    timeout: str | None = None


def looks_like_update(text: str) -> bool:
    """True when the text's first keyword after the prologue is an update operation."""
    stripped = _NOISE.sub(" ", text)
    words = re.findall(r"[A-Za-z_][\w-]*", _PROLOGUE.sub(" ", stripped))
    for word in words:
        if word.upper() in {"PREFIX", "BASE"}:
            continue
        return word.upper() in _UPDATE_KEYWORDS
    return False


def _one(params: list[tuple[str, str]], name: str) -> str | None:
    values = [value for key, value in params if key == name]
    if len(values) > 1:
        raise ProtocolError(f"the request has {len(values)} {name!r} parameters; send exactly one")
    return values[0] if values else None


def _first(params: list[tuple[str, str]], name: str) -> str | None:
    """Lenient where the protocol is silent: clients such as SPARQLWrapper repeat format=."""
    values = [value for key, value in params if key == name]
    return values[0] if values else None


def _all(params: list[tuple[str, str]], name: str) -> tuple[str, ...]:
    return tuple(value for key, value in params if key == name)


def media_type_of(content_type: str | None) -> tuple[str, dict[str, str]]:
    if not content_type:
        return "", {}
    main, *raw_params = content_type.split(";")
    params = {}
    for raw in raw_params:
        key, _, value = raw.partition("=")
        params[key.strip().lower()] = value.strip().strip('"').lower()
    return main.strip().lower(), params


def read_protocol_request(
    method: str, query_string: str, content_type: str | None, body: bytes
) -> ProtocolRequest:
    """The protocol request in a GET or POST; raises the error the request deserves."""
    url_params = parse_qsl(query_string, keep_blank_values=True)
    if method in ("GET", "HEAD"):
        return _from_params(url_params)
    media_type, params = media_type_of(content_type)
    if media_type == SPARQL_UPDATE:
        raise UpdateNotAllowedError(_READ_ONLY)
    if media_type == FORM:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("the form body is not valid UTF-8") from None
        return _from_params(url_params + parse_qsl(text, keep_blank_values=True))
    if media_type == SPARQL_QUERY:
        charset = params.get("charset", "utf-8")
        if charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaTypeError(
                f"a SPARQL query body must be UTF-8 encoded, not {charset}"
            )
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("the query body is not valid UTF-8") from None
        if _one(url_params, "query") is not None:
            raise ProtocolError("send the query either in the body or as query=, not both")
        if _one(url_params, "update") is not None:
            raise UpdateNotAllowedError(_READ_ONLY)
        return _checked(
            ProtocolRequest(
                query=text,
                default_graph_uris=_all(url_params, "default-graph-uri"),
                named_graph_uris=_all(url_params, "named-graph-uri"),
                format_override=_first(url_params, "format"),
                timeout=_one(url_params, "timeout"),
            )
        )
    shown = media_type or "no Content-Type"
    raise UnsupportedMediaTypeError(
        f"cannot read a request body sent as {shown}; send {FORM} or {SPARQL_QUERY}"
    )


def _from_params(params: list[tuple[str, str]]) -> ProtocolRequest:
    if any(key in ("update", "using-graph-uri", "using-named-graph-uri") for key, _ in params):
        raise UpdateNotAllowedError(_READ_ONLY)
    return _checked(
        ProtocolRequest(
            query=_one(params, "query"),
            default_graph_uris=_all(params, "default-graph-uri"),
            named_graph_uris=_all(params, "named-graph-uri"),
            format_override=_first(params, "format") or _first(params, "output"),
            timeout=_one(params, "timeout"),
        )
    )


def _checked(request: ProtocolRequest) -> ProtocolRequest:
    if request.query is not None and looks_like_update(request.query):
        raise UpdateNotAllowedError(_READ_ONLY + " (the query is an update operation)")
    return request
