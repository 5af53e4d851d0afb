"""uvicorn's httptools protocol with a cap on the request head, as its h11 protocol has,
and with a response's writes sent together.

httptools (llhttp) parses fast but has no limit of its own: uvicorn keeps the URL
and the headers of a request head however long it grows. This protocol counts the
bytes that arrive while a head is incomplete and, past ``h11_max_incomplete_event_size``
(uvicorn's setting; `engagements serve` sets it to four times ``max_header_bytes``),
answers 400 and closes the connection — so a head is never held beyond the cap plus
one read from the socket, the same bound h11 gives. Smaller heads still reach
``web/limits.py``, which answers 431 above ``max_header_bytes``.

A read that completes one request and begins the next (pipelining) is not counted
against the new head: its share of the read is unknown, and counting the whole read
could refuse a pipelined request for the size of the body before it. The new head
is counted from the next read on, so the bound becomes the cap plus two reads.

uvicorn writes a response's head and its body with two calls; each is a system call
that wakes the client on its own. Writes made in one turn of the event loop are
gathered and sent with one ``writelines`` (one vectored write, nothing copied).

A GET over HTTP/1.1 with keep-alive, on a connection with nothing else in flight, is
offered to the app's fast lane first (web/fast_lane.py): when it answers, the
response is written here and no ASGI cycle starts; otherwise uvicorn runs the app.
Once ``LANE_UNSENT_LIMIT`` bytes wait to be sent (a client pipelining without
reading), the app answers, one request at a time, as uvicorn does.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from defence_engagements.web.fast_lane import FastLane

DEFAULT_HEAD_LIMIT = 4 * 16_384
LANE_UNSENT_LIMIT = 64 * 1024  # bytes; asyncio's default high-water mark for writes
HEAD_TOO_LARGE = "Request head too large."


class _GatheringTransport:
    """A transport whose writes within one turn of the loop leave in one system call."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)
        self._pending_bytes += len(data)

    def unsent_bytes(self) -> int:
        """Bytes written but not yet taken by the socket: gathered, or in the buffer."""
        return self._pending_bytes + self._transport.get_write_buffer_size()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        self._pending_bytes = 0
        if pending and not self._transport.is_closing():
            self._transport.writelines(pending)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _fast_lane_of(app: Any) -> FastLane | None:
    """The app's fast lane, inside whatever uvicorn wrapped the app in (proxy headers…)."""
    for _ in range(8):
        lane = getattr(getattr(app, "state", None), "fast_lane", None)
        if isinstance(lane, FastLane):
            return lane
        app = getattr(app, "app", None)
        if app is None:
            break
    return None


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.head_limit = config.h11_max_incomplete_event_size or DEFAULT_HEAD_LIMIT
        self._in_head = True  # between requests, or inside an incomplete head
        self._head_bytes = 0
        self._head_began_in_read = False
        self.lane = _fast_lane_of(self.app)
        self._answered_in_lane = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.transport = _GatheringTransport(transport, self.loop)  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._head_began_in_read = False
        super().data_received(data)
        if not self._in_head or self._head_began_in_read or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > self.head_limit:
            self.logger.warning(HEAD_TOO_LARGE)
            self.send_400_response(HEAD_TOO_LARGE)

    def on_headers_complete(self) -> None:
        self._in_head = False
        if self.lane is not None and self._answer_in_lane(self.lane):
            return
        # An answer from the lane earlier in this read armed the keep-alive timer.
        self._unset_keepalive_if_required()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_head = True
        self._head_bytes = 0
        self._head_began_in_read = True
        if self._answered_in_lane:
            self._answered_in_lane = False
            return
        super().on_message_complete()

    def _answer_in_lane(self, lane: FastLane) -> bool:
        parser = self.parser
        if (
            parser.get_method() != b"GET"
            or parser.get_http_version() != "1.1"
            or not parser.should_keep_alive()
            or parser.should_upgrade()
            or (self.cycle is not None and not self.cycle.response_complete)
            or self.pipeline
            or self.flow.write_paused
            # A client that pipelines without reading is answered by the app, one
            # request at a time, once this much waits to be sent (as uvicorn's writer
            # waits for the buffer to drain).
            or self.transport.unsent_bytes() > LANE_UNSENT_LIMIT  # type: ignore[attr-defined]
            or self._over_concurrency_limit()
        ):
            return False
        try:
            url = httptools.parse_url(self.url)
            response = lane.respond(
                url.path,
                url.query or b"",
                self.headers,
                self.server_state.default_headers,
                STATUS_LINE,
            )
        except Exception:
            self.logger.exception("the fast lane failed on a request; the app answers it")
            return False
        if response is None:
            return False
        self.transport.write(response)
        self._answered_in_lane = True
        self.on_response_complete()  # counts it, arms keep-alive, reads on
        return True

    def _over_concurrency_limit(self) -> bool:
        limit = self.limit_concurrency
        return limit is not None and (len(self.connections) >= limit or len(self.tasks) >= limit)
