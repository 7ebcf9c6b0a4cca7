"""``heidi.Client``: the blocking client."""

from __future__ import annotations

import time
from collections.abc import Iterator

from . import _api
from ._errors import BadRequest, HeidiError
from ._http import error_for
from ._locate import resolve_socket
from ._transport import Response, Transport, UnixSocketTransport
from ._types import ActionResult, Event, Metrics, Status
from ._web import WebTransport, endpoint_from


class Client:
    """Controls and watches heidid over its control socket.

    ``socket``: the socket path; else ``$HEIDI_SOCKET``, the config's ``control.socket`` (``config``, else
    ``$HEIDI_CONFIG``, else /etc/heidi/heidi.yaml), else the default runtime directory, as heidictl finds it.
    ``url``: talk to heidi-web instead (``https://host:7779``, or ``http://`` on loopback; else ``$HEIDI_URL`` when
    neither ``socket`` nor ``config`` is given) with ``token`` (a bearer token; else ``$HEIDI_TOKEN``) or ``password``
    (HTTP Basic as ``user``, ``operator`` or ``viewer``; else ``$HEIDI_PASSWORD``), verifying TLS against the system's
    CAs, ``cafile`` (else ``$HEIDI_CAFILE``) or the certificate's SHA-256 ``fingerprint`` (else ``$HEIDI_FINGERPRINT``).
    ``transport``: any other way to reach a daemon; overrides the rest.
    ``timeout``: seconds a single request may take (followed streams are not limited).

    Every method raises a :class:`heidi.HeidiError` subclass that mirrors heidictl's exit codes.
    """

    def __init__(self, socket: str | None = None, *, config: str | None = None, url: str | None = None,
                 token: str | None = None, password: str | None = None, user: str = "operator",
                 cafile: str | None = None, fingerprint: str | None = None, transport: Transport | None = None,
                 timeout: float = _api.DEFAULT_TIMEOUT) -> None:
        if transport is None:
            endpoint = endpoint_from(url, socket=socket, config=config, token=token, password=password, user=user,
                                     cafile=cafile, fingerprint=fingerprint)
            transport = WebTransport(endpoint) if endpoint else UnixSocketTransport(resolve_socket(socket, config))
        self.transport: Transport = transport
        self.timeout = timeout

    @property
    def socket(self) -> str:
        """Where the daemon is: the socket path, or heidi-web's URL."""
        return self.transport.where

    def __repr__(self) -> str:
        return f"heidi.Client({self.transport.where!r})"

    # MARK: plumbing

    def request(self, method: str, target: str, body: bytes | None = None) -> Response:
        """One raw request: the answer whatever its status (for endpoints this class does not wrap)."""
        exchange = self.transport.open(method, target, body, self.timeout)
        try:
            data = b"".join(exchange.chunks())
            return Response(exchange.status, exchange.headers, data)
        finally:
            exchange.close()

    def _action(self, name: str, body: bytes | None = None) -> ActionResult:
        response = self.request("POST", _api.action_target(name), body)
        return _api.decode_action(response.status, response.body, self.transport.where)

    # MARK: reading

    def status(self) -> Status:
        """The status object (SPEC §5): state, stage, round, run id, child, last error, journal head."""
        response = self.request("GET", _api.STATUS)
        return _api.decode_status(response.status, response.body, self.transport.where)

    def health(self) -> bool:
        """True once the daemon is ready (``GET /api/v1/health``)."""
        return self.request("GET", _api.HEALTH).status == 200

    def metrics(self) -> Metrics:
        """``GET /metrics``, parsed: ``client.metrics().get("heidi_round")``."""
        response = self.request("GET", _api.METRICS)
        if response.status != 200:
            raise error_for(response.status, response.body, self.transport.where)
        return Metrics.parse(response.body.decode("utf-8", "replace"))

    # MARK: actions

    def start(self, mode: str | None = None, rounds: int | None = None, *, paused: bool = False) -> ActionResult:
        """Starts a run (``mode`` ``full`` or ``collect`` and ``rounds`` default to the daemon's config).
        ``paused``: hold before the first stage (then :meth:`resume` or :meth:`step`). Refused while a run is active."""
        return self._action("start", _api.start_body(mode, rounds, paused))

    def stop(self, wait: bool = False, timeout: float | None = None) -> ActionResult:
        """Stops the run: SIGTERM to the stage's tree, its stop_grace, then SIGKILL. With ``wait``, returns once
        the child tree is gone (at most ``timeout`` seconds, else :class:`heidi.WaitTimeout`)."""
        result = self._action("stop")
        if wait:
            started = time.monotonic()
            while True:
                status = self.status()
                if _api.stop_finished(status, started, timeout):
                    break
                time.sleep(0.05)
        return result

    def train_now(self) -> ActionResult:
        """Collect mode: train now (outcome ``started``) or as soon as validation ends (``queued``)."""
        return self._action("train_now")

    def pause(self) -> ActionResult:
        """Hold the run at the next stage boundary."""
        return self._action("pause")

    def resume(self) -> ActionResult:
        """Continue a paused run (or withdraw a pause request)."""
        return self._action("resume")

    def step(self) -> ActionResult:
        """Run one stage of a paused run, then hold again at the next boundary."""
        return self._action("step")

    def reset(self) -> ActionResult:
        """Leave ERROR for IDLE."""
        return self._action("reset")

    # MARK: waiting and streams

    def wait(self, state: str, timeout: float | None = None, interval: float = 0.1) -> Status:
        """Blocks until the pipeline is in ``state`` and returns the status. Raises :class:`heidi.PipelineFailed`
        when it goes to ERROR instead, :class:`heidi.WaitTimeout` after ``timeout`` seconds."""
        waiter = _api.Waiter(state, timeout)
        while True:
            status = self.status()
            if waiter.done(status):
                return status
            time.sleep(interval)

    def events(self, after: int = 0, follow: bool = False) -> Iterator[Event]:
        """Journal events with seq > ``after``; with ``follow``, new ones as they are written, forever, across
        daemon restarts (reconnects and resumes after the last seq it gave: no gap, no duplicate)."""
        cursor = _api.EventCursor(after, follow)
        for chunk in self._stream(cursor.target, follow, None):
            yield from cursor.feed(chunk)

    def logs(self, stage: str | None = None, round: int | None = None, follow: bool = False,
             tail: int | None = None) -> Iterator[str]:
        """A stage's output lines (without the newline) in the current run: ``stage`` defaults to the running
        one, ``round`` to the current one; ``tail`` only the last lines; ``follow`` keeps reading, across restarts."""
        if stage is None or (round is None and follow):
            status = self.status()
            stage = stage or status.stage
            if round is None and status.round > 0:
                round = status.round  # pinned, so a follower that reconnects keeps reading the same log
        if stage is None:
            raise BadRequest("no stage is running; name one: generate, validate, test, train or eval")
        cursor = _api.LogCursor(stage, round, follow, tail)
        for chunk in self._stream(cursor.target, follow, cursor.on_headers):
            yield from cursor.feed(chunk)

    def _stream(self, target: _api.TargetFn, follow: bool, on_headers: _api.HeadersFn | None) -> Iterator[bytes]:
        while True:
            try:
                # A followed stream may be quiet for hours: no timeout.
                exchange = self.transport.open("GET", target(), None, None if follow else self.timeout)
                try:
                    if exchange.status != 200:
                        raise error_for(exchange.status, b"".join(exchange.chunks()), self.transport.where)
                    if on_headers is not None:
                        on_headers(exchange.headers)
                    yield from exchange.chunks()
                finally:
                    exchange.close()
                if not follow:
                    return
                time.sleep(_api.RECONNECT_AFTER_END)  # the daemon ended the stream: stopping or restarting
            except HeidiError as error:
                if not (follow and _api.retryable(error)):
                    raise
                time.sleep(_api.RECONNECT_AFTER_ERROR)


