"""gzip for every response the client accepts it for, except the dump files.

Dumps are served with byte ranges and strong ETags over their stored bytes;
compressing them on the fly would break both (and the .gz dumps are compressed).
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

MINIMUM_SIZE = 1000  # bytes; smaller bodies are sent as they are


class SelectiveGZipMiddleware:
    def __init__(self, app: ASGIApp, *, minimum_size: int = MINIMUM_SIZE) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope.get("path", "")).startswith("/dumps/"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def uncompressed_headers(headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    """What the middleware does to a complete response for a client that does not accept
    gzip (the fast lane, web/fast_lane.py, answers only those): a body worth
    compressing says its form varies with Accept-Encoding."""
    if len(body) >= MINIMUM_SIZE:
        MutableHeaders(raw=headers).add_vary_header("Accept-Encoding")
