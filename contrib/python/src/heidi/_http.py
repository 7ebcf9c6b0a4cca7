"""HTTP/1.1 without I/O: the request bytes and an incremental response parser, shared by the blocking and the
asyncio transports, and the mapping of error answers to exceptions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ._errors import (
    AuthenticationFailed,
    BadRequest,
    ConnectionLost,
    HeidiError,
    IncompatibleDaemon,
    NotRunning,
    PermissionDenied,
    ProtocolError,
    Refused,
    TooManyRequests,
    Unavailable,
)

#: The control API version this package speaks (the daemon's ``X-Heidi-API`` header).
API_VERSION = 1
MAX_HEAD = 64 * 1024


def build_request(method: str, target: str, body: bytes | None, host: str = "localhost",
                  headers: dict[str, str] | None = None) -> bytes:
    """One request on its own connection (``Connection: close``), as heidictl sends them."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", "Connection: close", "User-Agent: heidi-python/0.1.0",
             "Accept: application/json"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    elif method == "POST":
        lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + (body or b"")


@dataclass
class ResponseParser:
    """Feed it the bytes read off the connection; it parses the head, then de-chunks the body into ``chunks``
    (take them with :meth:`take`). ``complete`` once the body ended; ``eof()`` when the peer closed."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    head_done: bool = False
    complete: bool = False
    _buffer: bytearray = field(default_factory=bytearray)
    _chunks: list[bytes] = field(default_factory=list)
    _remaining: int | None = None  # content-length left, or the current chunk's bytes left
    _chunked: bool = False
    _chunk_trailer: bool = False

    def take(self) -> list[bytes]:
        chunks, self._chunks = self._chunks, []
        return chunks

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if not self.head_done:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD:
                    raise ProtocolError("response head larger than 64 KiB")
                return
            self._parse_head(bytes(self._buffer[:end]).decode("latin-1"))
            del self._buffer[:end + 4]
        self._parse_body()

    def eof(self) -> None:
        """The connection ended: fine for a body delimited by the close, an error mid-head or mid-body."""
        if self.complete:
            return
        if not self.head_done:
            raise ConnectionLost("connection closed before the response head")
        if self._chunked or self._remaining:
            raise ConnectionLost("connection closed mid-body")
        if self._buffer:
            self._chunks.append(bytes(self._buffer))
            self._buffer.clear()
        self.complete = True

    def _parse_head(self, head: str) -> None:
        status_line, *header_lines = head.split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"bad status line {status_line!r}")
        self.status = int(parts[1])
        for line in header_lines:
            name, sep, value = line.partition(":")
            if sep:
                self.headers[name.strip().lower()] = value.strip()
        api = self.headers.get("x-heidi-api")
        if api is not None and api != str(API_VERSION):
            raise IncompatibleDaemon(f"heidid speaks control API v{api}; this heidi package speaks v{API_VERSION}: "
                                     "install the package that came with the installed heidid")
        self.head_done = True
        self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        if not self._chunked and "content-length" in self.headers:
            self._remaining = int(self.headers["content-length"])
            if self._remaining == 0:
                self.complete = True

    def _parse_body(self) -> None:
        if self.complete:
            self._buffer.clear()
            return
        if not self._chunked:
            if self._remaining is None:
                if self._buffer:
                    self._chunks.append(bytes(self._buffer))
                    self._buffer.clear()
                return
            piece = bytes(self._buffer[:self._remaining])
            del self._buffer[:len(piece)]
            self._remaining -= len(piece)
            if piece:
                self._chunks.append(piece)
            self.complete = self._remaining == 0
            return
        while True:
            if self._chunk_trailer:
                if len(self._buffer) < 2:
                    return
                del self._buffer[:2]
                self._chunk_trailer = False
            if not self._remaining:
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    return
                size_text = bytes(self._buffer[:end]).split(b";")[0].strip()
                try:
                    size = int(size_text, 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size {size_text!r}") from None
                del self._buffer[:end + 2]
                if size == 0:
                    self.complete = True
                    self._buffer.clear()
                    return
                self._remaining = size
            piece = bytes(self._buffer[:self._remaining])
            del self._buffer[:len(piece)]
            self._remaining -= len(piece)
            if piece:
                self._chunks.append(piece)
            if self._remaining:
                return
            self._chunk_trailer = True


class LineSplitter:
    """Cuts a byte stream into lines, each with its ``\\n``."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._pending += data
        lines: list[bytes] = []
        while True:
            newline = self._pending.find(b"\n")
            if newline < 0:
                return lines
            lines.append(bytes(self._pending[:newline + 1]))
            del self._pending[:newline + 1]


def error_for(status: int, body: bytes, socket: str | None, headers: dict[str, str] | None = None,
              web: bool = False) -> HeidiError:
    """The exception for a non-2xx answer, with the daemon's own message. ``web``: the answer came from heidi-web,
    whose own refusals (401, 421, 429, 502) come before heidid is asked."""
    message = f"HTTP {status}"
    code = ""
    try:
        detail = json.loads(body)["error"]
        message, code = str(detail["message"]), str(detail["code"])
    except (ValueError, KeyError, TypeError):
        if body.strip():
            message = f"HTTP {status}: {body[:200].decode('utf-8', 'replace').strip()}"
    if web and status == 401:
        return AuthenticationFailed(f"heidi-web at {socket} refused the credentials: {message} "
                                    "(pass token= or password=, or set $HEIDI_TOKEN)", socket=socket)
    if web and status == 429:
        retry = (headers or {}).get("retry-after", "")
        return TooManyRequests(f"heidi-web at {socket}: {message}",
                               float(retry) if retry.replace(".", "", 1).isdigit() else None)
    if web and status == 502:
        return NotRunning(socket or "heidi-web", stale=True,
                          message=f"heidi-web at {socket} cannot reach heidid: {message}")
    if status == 409:
        return Refused(message, code or "invalid_state")
    if status == 403:
        # heidid names the configured group: "... control.group is 'heidi' (gid 995), and uid 1000 is not in it ...".
        group = None
        for marker in ("control.group is '", "join group '"):
            if marker in message:
                group = message.split(marker, 1)[1].split("'", 1)[0]
                break
        return PermissionDenied(message, socket=socket, group=group)
    if status in (400, 404, 405, 413, 421):
        return BadRequest(message, status=status, code=code or "bad_request")
    if status in (500, 503):
        return Unavailable(message, status)
    return HeidiError(message)
