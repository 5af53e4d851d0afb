"""Complete responses kept in front of the app and sent again without running it.

A repeated read (the same GET or HEAD, asked the same way, of the same build) would
otherwise go through routing, four middlewares, protocol parsing, negotiation and the
ETag hash only to send the bytes it sent last time. This middleware sits just inside
``LastResortMiddleware``, outside everything that shapes a response (access log,
limits, CORS, gzip), so what it keeps is exactly what left the app; a replay writes
the access-log line the app would have written.

**Key:** the build version, the method, the raw path, the query string and every
``Accept``, ``Accept-Encoding`` and ``Origin`` header of the request: the request
headers our answers depend on (negotiation; gzip; CORS). An answer whose ``Vary``
names any other header is not kept.

**Kept** are only answers that are a function of that key: status 200 with a weak
ETag (only :func:`~defence_engagements.web.caching.build_etag` makes weak ones, from
the build version and what selects the representation; the strong ones of archived
texts and dumps name files that are not the build) and a ``public`` Cache-Control
without ``no-store``/``no-cache``/``private``, no ``Set-Cookie``, the body in one
message of at most ``entry_bytes``. An answer marked ``X-Cache: miss`` is not kept:
the answer memo's next one (``X-Cache: hit``) is, so a replay is byte for byte what
the memo path sends, and with the memo off (``answer_memo_entry_bytes = 0``) query
answers are never replayed.

**Not looked up** (the app answers them as always): other methods, requests with a
conditional or range header (the app's 304 and 206), with a body or a Content-Type,
and heads above ``max_header_bytes`` (the limits middleware's 431). A URL the limits
middleware refuses (414) never had a 200 to keep.

A new build changes the key; old entries are no longer asked for and age out of the
LRU. An answer is kept only if the build did not change while it was made.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from defence_engagements.web.access_log import (
    log,
    query_digest,
    query_from,
    response_fields,
    write_line,
)
from defence_engagements.web.limits import request_header_bytes
from defence_engagements.web.memo import Memo

# The request headers a kept answer may depend on; they are part of the key.
KEYED_HEADERS = frozenset({b"accept", b"accept-encoding", b"origin"})
_VARY_ALLOWED = frozenset(name.decode() for name in KEYED_HEADERS)
# A request with any of these is the app's to answer.
_PASSED_THROUGH = frozenset(
    {
        b"if-none-match",
        b"if-modified-since",
        b"if-match",
        b"if-unmodified-since",
        b"range",
        b"if-range",
        b"content-length",
        b"transfer-encoding",
        b"content-type",
    }
)
_UNCACHEABLE_DIRECTIVES = frozenset({"no-store", "no-cache", "private"})

Key = tuple[str, str, bytes, bytes, tuple[tuple[bytes, bytes], ...]]


@dataclass(frozen=True, slots=True)
class KeptResponse:
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    # Its access-log line, but for time and duration.
    query_sha256: str | None
    log_fields: dict[str, object]


class FrontCache:
    """The kept answers, the key a request is looked up by, and what may be kept: one
    per server process, shared by the middleware below and by the fast lane
    (web/fast_lane.py), which replays the same answers without running ASGI."""

    def __init__(
        self,
        *,
        build_version: Callable[[], str],
        max_entries: int,
        entry_bytes: int,
        max_header_bytes: int,
    ) -> None:
        self.build_version = build_version
        self.entry_bytes = entry_bytes
        self.max_header_bytes = max_header_bytes
        self.kept: Memo[KeptResponse] = Memo(max_entries)

    def key(
        self,
        method: str,
        raw_path: bytes,
        query_string: bytes,
        headers: Sequence[tuple[bytes, bytes]],
    ) -> Key | None:
        """The request's key; None when the request is the app's to answer."""
        if method not in ("GET", "HEAD"):
            return None
        varying = []
        for name, value in headers:
            if name in _PASSED_THROUGH:
                return None
            if name in KEYED_HEADERS:
                varying.append((name, value))
        if request_header_bytes(headers) > self.max_header_bytes:
            return None
        try:
            version = self.build_version()
        except Exception:  # no build, or it cannot be read: the app says what is wrong
            return None
        return (version, method, raw_path, query_string, tuple(varying))

    def get(self, key: Key) -> KeptResponse | None:
        return self.kept.get(key)

    def keep(
        self,
        key: Key,
        status: int,
        headers: tuple[tuple[bytes, bytes], ...],
        body: bytes,
        query_sha256: str | None = None,
        log_fields: dict[str, object] | None = None,
    ) -> None:
        """Keep a complete answer to the request ``key`` names, if it may be kept
        (``query_sha256`` and ``log_fields``: its access-log line's, when known)."""
        if not self._keepable(status, headers, body):
            return
        try:
            if self.build_version() != key[0]:
                return  # made while a new build was published: which build it shows is unsure
        except Exception:
            return
        self.kept.put(
            key,
            KeptResponse(
                status=status,
                headers=headers,
                body=body,
                # The key excludes requests with a body or a Content-Type, so the URL
                # alone gives the query the access log names.
                query_sha256=query_sha256 or query_digest(query_from(key[3], "", b"")),
                log_fields=response_fields(headers) if log_fields is None else log_fields,
            ),
        )

    def _keepable(self, status: int, headers: tuple[tuple[bytes, bytes], ...], body: bytes) -> bool:
        if status != 200 or len(body) > self.entry_bytes:
            return False
        weak_etag = public = False
        for name, value in headers:
            if name == b"etag":
                weak_etag = value.startswith(b"W/")
            elif name == b"cache-control":
                directives = _names(value)
                if directives & _UNCACHEABLE_DIRECTIVES:
                    return False
                public = public or "public" in directives
            elif name == b"vary":
                if not _names(value) <= _VARY_ALLOWED:
                    return False
            elif name == b"set-cookie" or (name == b"x-cache" and value == b"miss"):
                return False
        return weak_etag and public


class FrontCacheMiddleware:
    def __init__(self, app: ASGIApp, *, cache: FrontCache, logger: logging.Logger = log) -> None:
        self.app = app
        self.cache = cache
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = None
        if scope["type"] == "http":
            key = self.cache.key(
                scope["method"],
                scope.get("raw_path") or scope["path"].encode(),
                scope.get("query_string", b""),
                scope["headers"],
            )
        if key is None:
            await self.app(scope, receive, send)
            return
        kept = self.cache.get(key)
        if kept is None:
            await self._answer_and_keep(scope, receive, send, key)
        else:
            await self._replay(scope, send, kept)

    async def _replay(self, scope: Scope, send: Send, kept: KeptResponse) -> None:
        started = time.monotonic()
        sent = 0
        try:
            await send(
                {"type": "http.response.start", "status": kept.status, "headers": [*kept.headers]}
            )
            sent = len(kept.body)  # counted as the access log counts: before sending
            await send({"type": "http.response.body", "body": kept.body})
        finally:
            if self.logger.isEnabledFor(logging.INFO):
                write_line(
                    self.logger,
                    scope,
                    status=kept.status,
                    sent=sent,
                    started=started,
                    query_sha256=kept.query_sha256,
                    fields=kept.log_fields,
                )

    async def _answer_and_keep(self, scope: Scope, receive: Receive, send: Send, key: Key) -> None:
        status = 0
        headers: tuple[tuple[bytes, bytes], ...] = ()
        bodies: list[bytes] = []
        plain = True  # one head, one complete body, nothing else

        async def keeping_send(message: Message) -> None:
            nonlocal status, headers, plain
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                headers = tuple(message.get("headers", ()))
                plain = plain and not message.get("trailers", False)
            elif kind == "http.response.body":
                bodies.append(message.get("body", b""))
                plain = plain and not message.get("more_body", False)
            else:
                plain = False
            await send(message)

        await self.app(scope, receive, keeping_send)
        if plain and len(bodies) == 1:
            self.cache.keep(key, status, headers, bodies[0])


@lru_cache(maxsize=64)  # the app sends a handful of distinct values, on every answer
def _names(value: bytes) -> frozenset[str]:
    """The comma-separated names of a header value, lower case (``max-age=60`` → ``max-age``)."""
    parts = (part.split("=", 1)[0].strip() for part in value.decode("latin-1").lower().split(","))
    return frozenset(part for part in parts if part)
