"""Answers sent without running the ASGI app, byte for byte the ones it would send.

Under load the ASGI cycle itself (the request scope, the task, four middlewares,
routing, Starlette's request and response objects) costs as much as answering a
light query; benchmarks/README.md measures it. The HTTP protocol
(web/http_protocol.py) asks this lane first, for GET requests over HTTP/1.1 with
keep-alive and nothing else in flight on the connection. It answers:

- a request the front cache (web/front_cache.py) holds an answer for: that answer,
  as :class:`~defence_engagements.web.front_cache.FrontCacheMiddleware` replays it;
- ``GET /sparql?query=…`` that :func:`~defence_engagements.web.sparql.answer_without_waiting`
  answers (the answer memo, or a bounded query run here), when the client sends no
  ``Origin`` and does not accept gzip: the endpoint's own response with what the
  middleware adds to it for such a client (the ``Vary`` values of gzip, web/gzip.py,
  and of CORS). The answer is kept by the front cache, as the middleware keeps it.

Everything else goes to the app: conditional, range and body-carrying requests and
heads over ``max_header_bytes`` (the front cache's key refuses them), URLs over
``max_query_length``, non-ASCII query strings, CORS and gzip, every error. A failure
in the lane is logged and the app answers. Each answer writes the access-log line
the app would write. ``ENGAGEMENTS_FAST_LANE=0`` turns the lane off;
tests/web/test_fast_lane.py compares the two servers' answers.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import unquote

from starlette.datastructures import MutableHeaders

from defence_engagements.errors import EngagementsError
from defence_engagements.web.access_log import log, query_digest, response_fields, write_line
from defence_engagements.web.context import WebContext
from defence_engagements.web.front_cache import FrontCache
from defence_engagements.web.gzip import uncompressed_headers
from defence_engagements.web.protocol import read_protocol_request
from defence_engagements.web.sparql import answer_without_waiting

SPARQL_PATH = b"/sparql"
Headers = list[tuple[bytes, bytes]]


class FastLane:
    def __init__(
        self, context: WebContext, front_cache: FrontCache, logger: logging.Logger = log
    ) -> None:
        self.context = context
        self.front_cache = front_cache
        self.logger = logger
        self.max_query_length = context.settings.max_query_length

    def respond(
        self,
        raw_path: bytes,
        query_string: bytes,
        headers: Headers,
        default_headers: Headers,
        status_lines: dict[int, bytes],
    ) -> bytes | None:
        """The complete response to ``GET raw_path?query_string``, head and body, or
        None when the app is to answer. ``default_headers`` (Date) lead the head, as
        the server puts them."""
        started = time.monotonic()
        if not raw_path.isascii():
            return None
        key = self.front_cache.key("GET", raw_path, query_string, headers)
        if key is None:
            return None
        kept = self.front_cache.get(key)
        if kept is not None:
            status, sent_headers, body = kept.status, kept.headers, kept.body
            query_sha256, fields = kept.query_sha256, kept.log_fields
        else:
            answer = self._sparql_answer(raw_path, query_string, headers)
            if answer is None:
                return None
            status, sent_headers, body, query_sha256 = answer
            fields = response_fields(sent_headers)
            self.front_cache.keep(key, status, sent_headers, body, query_sha256, fields)
        if self.logger.isEnabledFor(logging.INFO):
            write_line(
                self.logger,
                {"method": "GET", "path": _path(raw_path)},
                status=status,
                sent=len(body),
                started=started,
                query_sha256=query_sha256,
                fields=fields,
            )
        head = [status_lines[status]]
        for name, value in (*default_headers, *sent_headers):
            head += (name, b": ", value, b"\r\n")
        head += (b"\r\n", body)
        return b"".join(head)

    def _sparql_answer(
        self, raw_path: bytes, query_string: bytes, headers: Headers
    ) -> tuple[int, tuple[tuple[bytes, bytes], ...], bytes, str | None] | None:
        """Status, headers, body and the query's digest (for the access log)."""
        if (
            raw_path != SPARQL_PATH
            or len(query_string) > self.max_query_length
            or not query_string.isascii()
        ):
            return None
        accept: str | None = None
        for name, value in headers:
            if name == b"origin" or (name == b"accept-encoding" and b"gzip" in value):
                return None  # CORS and gzip stay the middleware's
            if name == b"accept" and accept is None:
                accept = value.decode("latin-1")
        try:
            protocol = read_protocol_request("GET", query_string.decode("ascii"), None, b"")
        except EngagementsError:
            return None  # the endpoint words the error
        response = answer_without_waiting(self.context, protocol, accept)
        if response is None:
            return None
        sent_headers = list(response.raw_headers)
        # What the middleware adds for a client without Origin that does not accept gzip.
        uncompressed_headers(sent_headers, response.body)
        _vary_for_cors_without_origin(sent_headers)
        # The query the access log names: the only query= (read_protocol_request insists).
        digest = query_digest(protocol.query)
        return response.status_code, tuple(sent_headers), bytes(response.body), digest


def _vary_for_cors_without_origin(headers: Headers) -> None:
    """Starlette's CORSMiddleware, answering a request without Origin, names Origin in
    Vary (appended, as a new value of the header's first line)."""
    vary = MutableHeaders(raw=headers)
    vary["Vary"] = ", ".join([*vary.getlist("Vary"), "Origin"])


def _path(raw_path: bytes) -> str:
    """The request path as the ASGI scope carries it (and the access log names it)."""
    path = raw_path.decode("ascii")
    return unquote(path) if "%" in path else path
