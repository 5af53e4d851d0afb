"""gzip for every response the client accepts it for, except the dump files.

Dumps are served with byte ranges and strong ETags over their stored bytes;
compressing them on the fly would break both (and the .gz dumps are compressed).
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


class SelectiveGZipMiddleware:
    def __init__(self, app: ASGIApp, *, minimum_size: int = 1000) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not str(scope.get("path", "")).startswith("/dumps/"):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
