"""Request limits, enforced before the app sees a request.

- all headers together above ``max_header_bytes`` → 431 (uvicorn's parser has its
  own, larger cap and answers 400 beyond it);
- a URL whose query string or any single parameter is too long → 414 (the
  message suggests POST);
- a declared ``Content-Length`` above ``max_body_bytes`` → 413 before reading a
  byte; a chunked body is counted while it arrives and cut off the same way;
- a body that trickles in slower than ``body_read_timeout`` → 408, so a slow client
  holds a connection for a bounded time and never a query worker (queries are
  dispatched only once their body is complete).

Idle keep-alive connections and the number of connections are bounded by uvicorn
(``timeout_keep_alive``, ``limit_concurrency``; see cli/serve.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from defence_engagements.web.problem import header, send_problem


def request_header_bytes(headers: Iterable[tuple[bytes, bytes]]) -> int:
    """All request headers together, as ``max_header_bytes`` counts them (name: value CRLF)."""
    return sum(len(k) + len(v) + 4 for k, v in headers)


class BodyTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413, f"The request body is larger than this server accepts ({limit} bytes)."
        )


class BodyTooSlowError(HTTPException):
    def __init__(self, limit: float) -> None:
        super().__init__(408, f"The request body did not arrive within {limit:g} s.")


class RequestLimitsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = 1_000_000,
        max_query_length: int = 100_000,
        max_header_bytes: int = 16_384,
        body_read_timeout: float = 15.0,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_query_length = max_query_length
        self.max_header_bytes = max_header_bytes
        self.body_read_timeout = body_read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = header(scope, b"accept")
        refusal = self._refuse_head(scope)
        if refusal:
            status, title, detail = refusal
            await send_problem(send, status, title, detail, accept, headers={"Connection": "close"})
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, self._bounded_receive(receive), tracking_send)
        except (BodyTooLargeError, BodyTooSlowError) as error:
            if started:
                raise
            title = "Content Too Large" if error.status_code == 413 else "Request Timeout"
            await send_problem(
                send,
                error.status_code,
                title,
                error.detail,
                accept,
                headers={"Connection": "close"},
            )

    def _refuse_head(self, scope: Scope) -> tuple[int, str, str] | None:
        header_bytes = request_header_bytes(scope.get("headers", ()))
        if header_bytes > self.max_header_bytes:
            return (
                431,
                "Request Header Fields Too Large",
                f"The request headers take {header_bytes} bytes; "
                f"this server accepts at most {self.max_header_bytes}.",
            )
        raw_query: bytes = scope.get("query_string", b"")
        too_long = f"Send long queries with POST (at most {self.max_query_length} characters)."
        if len(raw_query) > 3 * self.max_query_length + 4096:
            return (414, "URI Too Long", f"The URL is {len(raw_query)} bytes long. {too_long}")
        if len(raw_query) > self.max_query_length:
            for name, value in parse_qsl(raw_query.decode("latin-1"), keep_blank_values=True):
                if len(value) > self.max_query_length:
                    return (
                        414,
                        "URI Too Long",
                        f"The {name!r} parameter is {len(value)} characters long. {too_long}",
                    )
        declared = header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                return (400, "Bad Request", "The Content-Length header is not a number.")
            if int(declared) > self.max_body_bytes:
                return (
                    413,
                    "Content Too Large",
                    f"The request body is {int(declared)} bytes; "
                    f"this server accepts at most {self.max_body_bytes}.",
                )
        return None

    def _bounded_receive(self, receive: Receive) -> Receive:
        received = 0
        complete = False
        deadline: float | None = None

        async def bounded() -> Message:
            nonlocal received, complete, deadline
            if complete:
                return await receive()  # waiting for a disconnect is not reading a body
            if deadline is None:
                deadline = time.monotonic() + self.body_read_timeout
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0))
            except TimeoutError:
                raise BodyTooSlowError(self.body_read_timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLargeError(self.max_body_bytes)
                complete = not message.get("more_body", False)
            return message

        return bounded
