"""heidi-web as a transport: the same API over HTTPS (or HTTP on loopback) with a bearer token or the operator's
HTTP Basic password (SPEC §12). TLS is verified by default: the system's CAs, a CA file, or the server
certificate's SHA-256 fingerprint (pinning, for a self-signed certificate). Credentials never travel in clear text
off loopback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import os
import socket as socketlib
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from ._errors import ConnectionLost, HeidiError, InsecureConnection, NotRunning
from ._http import build_request, error_for
from ._transport import AsyncExchange, Exchange, _AsyncSocketExchange, _SocketExchange

#: Answers heidi-web gives before the request reaches heidid: raised by the transport with their headers
#: (``Retry-After``), whatever the endpoint.
GATE_STATUSES = (401, 421, 429, 502)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address literal (no DNS lookup: a name is only as loopback as its resolver)."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalize_fingerprint(text: str) -> str:
    """``AB:CD:…`` (as ``openssl x509 -fingerprint -sha256`` prints it) or plain hex, to lowercase hex."""
    hexdigits = text.replace(":", "").replace(" ", "").lower()
    if hexdigits.startswith("sha256="):
        hexdigits = hexdigits[len("sha256="):]
    if len(hexdigits) != 64 or any(c not in "0123456789abcdef" for c in hexdigits):
        raise InsecureConnection(f"fingerprint must be a SHA-256 digest (64 hex digits, colons allowed), not {text!r}")
    return hexdigits


@dataclass(frozen=True)
class WebEndpoint:
    """Where heidi-web is and how to talk to it: shared by the blocking and the asyncio transports."""

    url: str
    scheme: str
    host: str
    port: int
    prefix: str
    authorization: str | None
    ssl_context: ssl.SSLContext | None
    fingerprint: str | None

    @classmethod
    def make(cls, url: str, *, token: str | None = None, password: str | None = None, user: str = "operator",
             cafile: str | None = None, fingerprint: str | None = None) -> WebEndpoint:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise InsecureConnection(f"heidi-web URL must be http(s)://HOST[:PORT][/PATH], not {url!r}")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise InsecureConnection(f"heidi-web URL {url!r} must not carry credentials, a query or a fragment "
                                     "(pass token= or password=)")
        host = parts.hostname
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise InsecureConnection(f"heidi-web URL {url!r} has a bad port") from None
        if token is not None and password is not None:
            raise InsecureConnection("pass token= or password=, not both")
        authorization = None
        if token is not None:
            authorization = "Bearer " + token
        elif password is not None:
            authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        if scheme == "http" and authorization is not None and not is_loopback(host):
            raise InsecureConnection(f"refusing to send credentials in clear text to {url}: use https:// "
                                     "(heidi-web --tls-cert/--tls-key), or http:// only on loopback")
        if scheme == "http" and (cafile or fingerprint):
            raise InsecureConnection(f"cafile= and fingerprint= need an https:// URL, not {url!r}")
        context = None
        pinned = None
        if scheme == "https":
            if fingerprint is not None:
                pinned = normalize_fingerprint(fingerprint)
                # The pin replaces the CA chain and the name: the certificate itself is checked after the handshake.
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                try:
                    context = ssl.create_default_context(cafile=cafile)
                except (OSError, ssl.SSLError) as error:
                    raise InsecureConnection(f"cannot load the CA file {cafile}: {error}") from None
            context.minimum_version = ssl.TLSVersion.TLSv1_2
        netloc_host = f"[{host}]" if ":" in host else host
        where = f"{scheme}://{netloc_host}:{port}{parts.path.rstrip('/')}"
        return cls(where, scheme, host, port, parts.path.rstrip("/"), authorization, context, pinned)

    @property
    def host_header(self) -> str:
        """``host:port``, one of the names heidi-web answers to (its listen address, loopback names, allowed_hosts)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def request_bytes(self, method: str, target: str, body: bytes | None) -> bytes:
        headers = {"Authorization": self.authorization} if self.authorization else {}
        return build_request(method, self.prefix + target, body, host=self.host_header, headers=headers)

    def check_peer(self, der: bytes | None) -> None:
        if self.fingerprint is None:
            return
        seen = hashlib.sha256(der or b"").hexdigest()
        if seen != self.fingerprint:
            raise InsecureConnection(f"the certificate of {self.url} has SHA-256 fingerprint {seen}, not the pinned "
                                     f"{self.fingerprint}: refusing to send the request")

    def connect_error(self, error: OSError) -> HeidiError:
        if isinstance(error, ssl.SSLCertVerificationError):
            return InsecureConnection(f"TLS verification of {self.url} failed ({error.verify_message}): pass "
                                      "cafile= (the CA or the self-signed certificate) or fingerprint= (its SHA-256)")
        if isinstance(error, ssl.SSLError):
            return InsecureConnection(f"TLS handshake with {self.url} failed: {error}")
        # Refused, unreachable, unknown name: nothing answers there (a restart in progress, for a follower).
        detail = error.strerror or str(error)
        return NotRunning(self.url, stale=True, message=f"heidi-web is not reachable at {self.url} ({detail}): "
                          "is it running?")


def _raise_gate(exchange_status: int, headers: dict[str, str], body: bytes, where: str) -> None:
    if exchange_status in GATE_STATUSES:
        raise error_for(exchange_status, body, where, headers=headers, web=True)


class WebTransport:
    """Blocking transport to heidi-web: ``heidi.Client(transport=heidi.WebTransport("https://host:7779", token=…))``,
    or simply ``heidi.Client(url=…, token=…)``. ``cafile``: the CA (or the self-signed certificate) to trust instead
    of the system's; ``fingerprint``: the server certificate's SHA-256 instead of any CA; ``password``: HTTP Basic
    as ``user`` (``operator``, or ``viewer``)."""

    def __init__(self, url: str | WebEndpoint, *, token: str | None = None, password: str | None = None,
                 user: str = "operator", cafile: str | None = None, fingerprint: str | None = None) -> None:
        self.endpoint = url if isinstance(url, WebEndpoint) else WebEndpoint.make(
            url, token=token, password=password, user=user, cafile=cafile, fingerprint=fingerprint)
        self.where = self.endpoint.url

    def open(self, method: str, target: str, body: bytes | None = None,
             timeout: float | None = None) -> Exchange:
        endpoint = self.endpoint
        try:
            raw = socketlib.create_connection((endpoint.host, endpoint.port), timeout=timeout)
        except OSError as error:
            raise endpoint.connect_error(error) from None
        sock: socketlib.socket = raw
        try:
            if endpoint.ssl_context is not None:
                try:
                    sock = endpoint.ssl_context.wrap_socket(raw, server_hostname=endpoint.host)
                except OSError as error:
                    raise endpoint.connect_error(error) from None
                assert isinstance(sock, ssl.SSLSocket)
                endpoint.check_peer(sock.getpeercert(binary_form=True))
            try:
                sock.sendall(endpoint.request_bytes(method, target, body))
            except OSError as error:
                raise ConnectionLost(f"writing to heidi-web at {endpoint.url}: {error.strerror or error}") from None
            exchange = _SocketExchange(sock, endpoint.url)
            if exchange.status in GATE_STATUSES:
                _raise_gate(exchange.status, exchange.headers, b"".join(exchange.chunks()), endpoint.url)
            return exchange
        except BaseException:
            sock.close()
            raise


class AsyncWebTransport:
    """The asyncio variant of :class:`WebTransport` (same arguments)."""

    def __init__(self, url: str | WebEndpoint, *, token: str | None = None, password: str | None = None,
                 user: str = "operator", cafile: str | None = None, fingerprint: str | None = None) -> None:
        self.endpoint = url if isinstance(url, WebEndpoint) else WebEndpoint.make(
            url, token=token, password=password, user=user, cafile=cafile, fingerprint=fingerprint)
        self.where = self.endpoint.url

    async def open(self, method: str, target: str, body: bytes | None = None,
                   timeout: float | None = None) -> AsyncExchange:
        endpoint = self.endpoint
        context = endpoint.ssl_context
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                endpoint.host, endpoint.port, ssl=context,
                server_hostname=endpoint.host if context is not None else None), timeout)
        except asyncio.TimeoutError:
            raise ConnectionLost(f"connecting to heidi-web at {endpoint.url} timed out") from None
        except OSError as error:
            raise endpoint.connect_error(error) from None
        exchange = _AsyncSocketExchange(reader, writer, endpoint.url, timeout)
        try:
            if context is not None:
                ssl_object = writer.get_extra_info("ssl_object")
                endpoint.check_peer(ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None)
            writer.write(endpoint.request_bytes(method, target, body))
            await writer.drain()
            await exchange.read_head()
            if exchange.status in GATE_STATUSES:
                data = b"".join([chunk async for chunk in exchange.chunks()])
                _raise_gate(exchange.status, exchange.headers, data, endpoint.url)
        except OSError as error:
            await exchange.close()
            raise ConnectionLost(f"talking to heidi-web at {endpoint.url}: {error.strerror or error}") from None
        except BaseException:
            await exchange.close()
            raise
        return exchange


def endpoint_from(url: str | None, *, socket: str | None, config: str | None, token: str | None,
                  password: str | None, user: str, cafile: str | None, fingerprint: str | None) -> WebEndpoint | None:
    """The clients' choice: heidi-web when ``url`` is given, or when neither ``socket`` nor ``config`` is and
    ``$HEIDI_URL`` is set; None for the control socket. Unset arguments come from ``$HEIDI_TOKEN`` (else
    ``$HEIDI_PASSWORD``, as ``$HEIDI_USER``, default operator), ``$HEIDI_CAFILE`` and ``$HEIDI_FINGERPRINT``."""
    if url is None:
        if socket is not None or config is not None:
            return None
        url = os.environ.get("HEIDI_URL") or None
        if url is None:
            return None
    if token is None and password is None:
        token = os.environ.get("HEIDI_TOKEN") or None
        if token is None:
            password = os.environ.get("HEIDI_PASSWORD") or None
            user = os.environ.get("HEIDI_USER") or user
    if cafile is None and fingerprint is None:
        cafile = os.environ.get("HEIDI_CAFILE") or None
        fingerprint = os.environ.get("HEIDI_FINGERPRINT") or None
    return WebEndpoint.make(url, token=token, password=password, user=user, cafile=cafile, fingerprint=fingerprint)
