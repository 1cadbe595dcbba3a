"""A header-read deadline (against slow-loris): a connection that has not sent a whole
request head (request line and headers) within the deadline is closed.

aiohttp has no such timeout of its own for a connection's first request (its keep-alive
timeout, which we set to the same value, covers the time between requests), so the
listening site wraps each connection's protocol in `FirstRequestDeadline`: a timer from
the moment the connection opens, disarmed when the blank line ending the head arrives.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

HEAD_END = b"\r\n\r\n"


class FirstRequestDeadline(asyncio.Protocol):
    """aiohttp's protocol for one connection, closed if the first head is late."""

    def __init__(
        self, inner: asyncio.Protocol, timeout_s: float, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._inner = inner
        self._timeout_s = timeout_s
        self._loop = loop
        self._timer: asyncio.TimerHandle | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._tail = b""  # the last bytes seen, so an end split across reads is found

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._timer = self._loop.call_later(self._timeout_s, self._expire)
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._timer is not None:
            seen = self._tail + data
            if HEAD_END in seen:
                self._disarm()
            else:
                self._tail = seen[-(len(HEAD_END) - 1) :]
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self._transport is not None:
            self._transport.close()


class DeadlineTCPSite(web.BaseSite):
    """A TCP listening site whose connections get FirstRequestDeadline."""

    __slots__ = ("_host", "_port", "_timeout_s")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, timeout_s: float) -> None:
        super().__init__(runner)
        self._host = host
        self._port = port
        self._timeout_s = timeout_s

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None  # the runner was set up (BaseSite checked)
        timeout_s = self._timeout_s
        self._server = await loop.create_server(
            lambda: FirstRequestDeadline(server(), timeout_s, loop),
            self._host,
            self._port,
            backlog=self._backlog,
        )
