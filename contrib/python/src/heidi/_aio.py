"""``heidi.AsyncClient``: the asyncio client, method for method the same as :class:`heidi.Client`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from . import _api
from ._errors import BadRequest, HeidiError
from ._http import error_for
from ._locate import resolve_socket
from ._transport import AsyncTransport, AsyncUnixSocketTransport, Response
from ._types import ActionResult, Event, Metrics, Status
from ._web import AsyncWebTransport, endpoint_from


class AsyncClient:
    """Like :class:`heidi.Client`, with coroutines and async iterators::

        async with heidi.AsyncClient() as client:
            await client.start("full", rounds=2)
            async for event in client.events(follow=True):
                ...

    The same arguments as :class:`heidi.Client` (``url=``/``token=`` for heidi-web).
    """

    def __init__(self, socket: str | None = None, *, config: str | None = None, url: str | None = None,
                 token: str | None = None, password: str | None = None, user: str = "operator",
                 cafile: str | None = None, fingerprint: str | None = None, transport: AsyncTransport | None = None,
                 timeout: float = _api.DEFAULT_TIMEOUT) -> None:
        if transport is None:
            endpoint = endpoint_from(url, socket=socket, config=config, token=token, password=password, user=user,
                                     cafile=cafile, fingerprint=fingerprint)
            transport = (AsyncWebTransport(endpoint) if endpoint
                         else AsyncUnixSocketTransport(resolve_socket(socket, config)))
        self.transport: AsyncTransport = transport
        self.timeout = timeout

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None  # one connection per request: nothing stays open

    @property
    def socket(self) -> str:
        return self.transport.where

    def __repr__(self) -> str:
        return f"heidi.AsyncClient({self.transport.where!r})"

    async def request(self, method: str, target: str, body: bytes | None = None) -> Response:
        """One raw request: the answer whatever its status."""
        exchange = await self.transport.open(method, target, body, self.timeout)
        try:
            data = b"".join([chunk async for chunk in exchange.chunks()])
            return Response(exchange.status, exchange.headers, data)
        finally:
            await exchange.close()

    async def _action(self, name: str, body: bytes | None = None) -> ActionResult:
        response = await self.request("POST", _api.action_target(name), body)
        return _api.decode_action(response.status, response.body, self.transport.where)

    async def status(self) -> Status:
        response = await self.request("GET", _api.STATUS)
        return _api.decode_status(response.status, response.body, self.transport.where)

    async def health(self) -> bool:
        return (await self.request("GET", _api.HEALTH)).status == 200

    async def metrics(self) -> Metrics:
        response = await self.request("GET", _api.METRICS)
        if response.status != 200:
            raise error_for(response.status, response.body, self.transport.where)
        return Metrics.parse(response.body.decode("utf-8", "replace"))

    async def start(self, mode: str | None = None, rounds: int | None = None, *,
                    paused: bool = False) -> ActionResult:
        return await self._action("start", _api.start_body(mode, rounds, paused))

    async def stop(self, wait: bool = False, timeout: float | None = None) -> ActionResult:
        result = await self._action("stop")
        if wait:
            started = time.monotonic()
            while not _api.stop_finished(await self.status(), started, timeout):
                await asyncio.sleep(0.05)
        return result

    async def train_now(self) -> ActionResult:
        return await self._action("train_now")

    async def pause(self) -> ActionResult:
        return await self._action("pause")

    async def resume(self) -> ActionResult:
        return await self._action("resume")

    async def step(self) -> ActionResult:
        return await self._action("step")

    async def reset(self) -> ActionResult:
        return await self._action("reset")

    async def wait(self, state: str, timeout: float | None = None, interval: float = 0.1) -> Status:
        waiter = _api.Waiter(state, timeout)
        while True:
            status = await self.status()
            if waiter.done(status):
                return status
            await asyncio.sleep(interval)

    async def events(self, after: int = 0, follow: bool = False) -> AsyncIterator[Event]:
        cursor = _api.EventCursor(after, follow)
        async for chunk in self._stream(cursor.target, follow, None):
            for event in cursor.feed(chunk):
                yield event

    async def logs(self, stage: str | None = None, round: int | None = None, follow: bool = False,
                   tail: int | None = None) -> AsyncIterator[str]:
        if stage is None or (round is None and follow):
            status = await self.status()
            stage = stage or status.stage
            if round is None and status.round > 0:
                round = status.round
        if stage is None:
            raise BadRequest("no stage is running; name one: generate, validate, test, train or eval")
        cursor = _api.LogCursor(stage, round, follow, tail)
        async for chunk in self._stream(cursor.target, follow, cursor.on_headers):
            for line in cursor.feed(chunk):
                yield line

    async def _stream(self, target: _api.TargetFn, follow: bool,
                      on_headers: _api.HeadersFn | None) -> AsyncIterator[bytes]:
        while True:
            try:
                # A followed stream may be quiet for hours: no timeout.
                exchange = await self.transport.open("GET", target(), None, None if follow else self.timeout)
                try:
                    if exchange.status != 200:
                        body = b"".join([chunk async for chunk in exchange.chunks()])
                        raise error_for(exchange.status, body, self.transport.where)
                    if on_headers is not None:
                        on_headers(exchange.headers)
                    async for chunk in exchange.chunks():
                        yield chunk
                finally:
                    await exchange.close()
                if not follow:
                    return
                await asyncio.sleep(_api.RECONNECT_AFTER_END)
            except HeidiError as error:
                if not (follow and _api.retryable(error)):
                    raise
                await asyncio.sleep(_api.RECONNECT_AFTER_ERROR)
