"""Transports: how requests reach heidid. The control socket here (blocking and asyncio); heidi-web over HTTPS in
``_web`` behind the same two protocols."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket as socketlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Protocol

from ._errors import ConnectionLost, HeidiError, NotRunning, PermissionDenied
from ._http import ResponseParser, build_request
from ._locate import describe_blocker

READ_SIZE = 64 * 1024


@dataclass
class Response:
    """A complete answer."""

    status: int
    headers: dict[str, str]
    body: bytes


class Exchange(Protocol):
    """One request's answer being read: the head, then the body as it arrives."""

    status: int
    headers: dict[str, str]

    def chunks(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class Transport(Protocol):
    """Sends one request per connection. ``where`` names the endpoint in messages (socket path, URL)."""

    where: str

    def open(self, method: str, target: str, body: bytes | None = None,
             timeout: float | None = None) -> Exchange: ...


class AsyncExchange(Protocol):
    status: int
    headers: dict[str, str]

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


class AsyncTransport(Protocol):
    where: str

    async def open(self, method: str, target: str, body: bytes | None = None,
                   timeout: float | None = None) -> AsyncExchange: ...


def connect_error(path: str, error: OSError) -> HeidiError:
    """heidictl's exit-code mapping of a failed connect (3 not running, 4 permission denied, 5 other)."""
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return NotRunning(path, stale=False)
    if error.errno == errno.ECONNREFUSED:
        return NotRunning(path, stale=True)
    if error.errno in (errno.EACCES, errno.EPERM):
        detail, group = describe_blocker(path)
        join = f"join group {group} (sudo usermod -aG {group} $USER, then log in again) or " if group else ""
        return PermissionDenied(f"permission denied on {path} ({detail}): {join}run as root", socket=path, group=group)
    if error.errno == errno.ENAMETOOLONG or len(path.encode()) > 107:
        return HeidiError(f"control socket path is too long (max 107 bytes): {path}")
    return HeidiError(f"cannot connect to {path}: {error.strerror or error}")


class _SocketExchange:
    def __init__(self, sock: socketlib.socket, path: str) -> None:
        self._sock = sock
        self._path = path
        self._parser = ResponseParser()
        self._early: list[bytes] = []
        while not self._parser.head_done:
            self._read()
        self.status = self._parser.status
        self.headers = self._parser.headers
        self._early = self._parser.take()

    def _read(self) -> None:
        try:
            data = self._sock.recv(READ_SIZE)
        except socketlib.timeout:
            raise ConnectionLost(f"heidid at {self._path} did not answer in time") from None
        except OSError as error:
            raise ConnectionLost(f"reading from heidid at {self._path}: {error.strerror or error}") from None
        if data:
            self._parser.feed(data)
        else:
            self._parser.eof()

    def chunks(self) -> Iterator[bytes]:
        yield from self._early
        self._early = []
        while not self._parser.complete:
            self._read()
            yield from self._parser.take()

    def close(self) -> None:
        self._sock.close()


class UnixSocketTransport:
    """HTTP/1.1 over heidid's ``AF_UNIX`` control socket."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.where = path

    def open(self, method: str, target: str, body: bytes | None = None,
             timeout: float | None = None) -> Exchange:
        sock = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            try:
                sock.connect(self.path)
            except OSError as error:
                raise connect_error(self.path, error) from None
            try:
                sock.sendall(build_request(method, target, body))
            except OSError as error:
                raise ConnectionLost(f"writing to heidid at {self.path}: {error.strerror or error}") from None
            return _SocketExchange(sock, self.path)
        except BaseException:
            sock.close()
            raise


class _AsyncSocketExchange:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str,
                 timeout: float | None) -> None:
        self._reader = reader
        self._writer = writer
        self._path = path
        self._timeout = timeout
        self._parser = ResponseParser()
        self._early: list[bytes] = []
        self.status = 0
        self.headers: dict[str, str] = {}

    async def _read(self) -> None:
        try:
            data = await asyncio.wait_for(self._reader.read(READ_SIZE), self._timeout)
        except asyncio.TimeoutError:
            raise ConnectionLost(f"heidid at {self._path} did not answer in time") from None
        except OSError as error:
            raise ConnectionLost(f"reading from heidid at {self._path}: {error.strerror or error}") from None
        if data:
            self._parser.feed(data)
        else:
            self._parser.eof()

    async def read_head(self) -> None:
        while not self._parser.head_done:
            await self._read()
        self.status = self._parser.status
        self.headers = self._parser.headers
        self._early = self._parser.take()

    async def chunks(self) -> AsyncIterator[bytes]:
        for chunk in self._early:
            yield chunk
        self._early = []
        while not self._parser.complete:
            await self._read()
            for chunk in self._parser.take():
                yield chunk

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


class AsyncUnixSocketTransport:
    """The asyncio variant of :class:`UnixSocketTransport`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.where = path

    async def open(self, method: str, target: str, body: bytes | None = None,
                   timeout: float | None = None) -> AsyncExchange:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(self.path), timeout)
        except asyncio.TimeoutError:
            raise ConnectionLost(f"connecting to heidid at {self.path} timed out") from None
        except OSError as error:
            raise connect_error(self.path, error) from None
        exchange = _AsyncSocketExchange(reader, writer, self.path, timeout)
        try:
            writer.write(build_request(method, target, body))
            await writer.drain()
            await exchange.read_head()
        except OSError as error:
            await exchange.close()
            raise ConnectionLost(f"writing to heidid at {self.path}: {error.strerror or error}") from None
        except BaseException:
            await exchange.close()
            raise
        return exchange
