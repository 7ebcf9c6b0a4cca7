"""Parts that need no daemon: the HTTP parser fed byte by byte, error mapping, config reading, and the follower's
resume logic through a scripted transport, and the heidi-web transport's URL, credential and TLS rules."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

import heidi
from heidi._http import ResponseParser, error_for
from heidi._locate import read_sections

LINES = [json.dumps({"event_version": "2", "seq": n, "ts": "t", "run_id": None, "round": 0, "stage": None,
                     "level": "info", "event_type": f"e{n}", "message": "m", "counters_delta": {},
                     "usage_delta": {}, "artifact_paths": [], "prev_hash": "0" * 64},
                    separators=(",", ":")).encode() + b"\n" for n in range(1, 6)]


def parse_bytewise(raw: bytes) -> tuple[ResponseParser, bytes]:
    parser = ResponseParser()
    body = b""
    for i in range(len(raw)):
        parser.feed(raw[i:i + 1])
        body += b"".join(parser.take())
    if not parser.complete:
        parser.eof()
        body += b"".join(parser.take())
    return parser, body


def test_parser_chunked_and_sized_bodies_byte_by_byte() -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Heidi-API: 1\r\n\r\n"
               b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\n\r\n")
    parser, body = parse_bytewise(chunked)
    assert (parser.status, body, parser.complete) == (200, b"hello world", True)
    sized = b"HTTP/1.1 409 Conflict\r\nContent-Length: 3\r\n\r\nabcEXTRA"
    parser, body = parse_bytewise(sized)
    assert (parser.status, body) == (409, b"abc")
    parser, body = parse_bytewise(b"HTTP/1.1 200 OK\r\n\r\nuntil close")
    assert body == b"until close"
    with pytest.raises(heidi.ConnectionLost):
        parse_bytewise(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    with pytest.raises(heidi.ProtocolError, match="bad status line"):
        parse_bytewise(b"SSH-2.0-OpenSSH\r\n\r\n")
    with pytest.raises(heidi.IncompatibleDaemon, match="v2"):
        parse_bytewise(b"HTTP/1.1 200 OK\r\nX-Heidi-API: 2\r\nContent-Length: 0\r\n\r\n")


def test_error_mapping() -> None:
    def body(code: str, message: str) -> bytes:
        return json.dumps({"error": {"code": code, "message": message}}).encode()

    refused = error_for(409, body("invalid_state", "pause refused: no run is active"), "/s")
    assert isinstance(refused, heidi.Refused) and refused.reason == "pause refused: no run is active"
    denied = error_for(403, body("forbidden", "uid 1000 may read but not control heidid on /run/heidi/heidi.sock: "
                                              "control.group is 'heidi' (gid 995), and uid 1000 is not in it: join it"
                                              " (usermod -aG heidi USER, then log in again) or run as root"), "/s")
    assert isinstance(denied, heidi.PermissionDenied) and denied.group == "heidi" and denied.exit_code == 4
    bad = error_for(413, body("too_large", "request too large"), "/s")
    assert isinstance(bad, heidi.BadRequest) and bad.status == 413 and bad.exit_code == 5
    assert isinstance(error_for(503, body("unavailable", "shutting down"), "/s"), heidi.Unavailable)
    assert str(error_for(502, b"<html>", "/s")) == "HTTP 502: <html>"


def test_config_sections() -> None:
    text = ("# comment\ncontrol:\n  socket: '/run/a b.sock'  # trailing\n  group: heidi\n"
            "stages:\n  generate: {command: [x]}\npaths: {runtime_dir: \"/r\", state_dir: /s}\n")
    sections = read_sections(text)
    assert sections["control"] == {"socket": "/run/a b.sock", "group": "heidi"}
    assert sections["paths"] == {"runtime_dir": "/r", "state_dir": "/s"}
    assert "generate" not in sections["stages"]


def test_metrics_parse() -> None:
    metrics = heidi.Metrics.parse('# HELP x\nheidi_up 1\nheidi_stage_seconds_bucket{stage="train",le="+Inf"} 4\n'
                                  'heidi_note{text="a \\"q\\""} 2.5\n')
    assert metrics.get("heidi_up") == 1.0
    assert metrics.get("heidi_stage_seconds_bucket", stage="train", le="+Inf") == 4.0
    assert metrics.get("heidi_note", text='a "q"') == 2.5
    assert metrics.get("heidi_missing") is None


class ScriptedExchange:
    def __init__(self, chunks: list[bytes], then: Exception | None) -> None:
        self.status = 200
        self.headers: dict[str, str] = {}
        self._chunks = chunks
        self._then = then

    def chunks(self) -> Iterator[bytes]:
        yield from self._chunks
        if self._then is not None:
            raise self._then

    def close(self) -> None:
        pass


class ScriptedTransport:
    """Answers each connection from a script: chunks, then an exception (or the end of the stream)."""

    where = "scripted"

    def __init__(self, script: list[tuple[list[bytes], Exception | None] | Exception]) -> None:
        self.script = script
        self.targets: list[str] = []

    def open(self, method: str, target: str, body: bytes | None = None,
             timeout: float | None = None) -> ScriptedExchange:
        self.targets.append(target)
        step = self.script.pop(0) if self.script else heidi.NotRunning("scripted", stale=False)
        if isinstance(step, Exception):
            raise step
        return ScriptedExchange(*step)


def test_follower_resumes_after_the_last_seq_without_gap_or_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("heidi._api.RECONNECT_AFTER_END", 0.0)
    monkeypatch.setattr("heidi._api.RECONNECT_AFTER_ERROR", 0.0)
    half = LINES[2][:20]
    transport = ScriptedTransport([
        ([LINES[0], LINES[1] + half], heidi.ConnectionLost("cut mid-line")),  # the daemon died mid-line 3
        heidi.NotRunning("scripted", stale=True),  # restarting
        ([LINES[1], LINES[2], LINES[3]], None),  # a server that repeats line 2; then the stream ends
        ([LINES[4]], None),
    ])
    client = heidi.Client(transport=transport)
    seqs = []
    for event in client.events(follow=True):
        seqs.append(event.seq)
        if event.seq == 5:
            break
    assert seqs == [1, 2, 3, 4, 5]
    assert [t.split("?")[1] for t in transport.targets] == ["after=0&follow=1", "after=2&follow=1",
                                                            "after=2&follow=1", "after=4&follow=1"]
    # Without follow, a cut connection is an error, not a silent end.
    with pytest.raises(heidi.ConnectionLost):
        list(heidi.Client(transport=ScriptedTransport([([LINES[0]], heidi.ConnectionLost("x"))])).events())
    # Permission denied is permanent: a follower does not spin on it.
    with pytest.raises(heidi.PermissionDenied):
        next(heidi.Client(transport=ScriptedTransport([heidi.PermissionDenied("no", "/s", "heidi")])).events(
            follow=True))


def test_web_endpoint_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    from heidi._web import WebEndpoint, endpoint_from, is_loopback

    assert all(is_loopback(h) for h in ("localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("192.0.2.1", "heidi.example", "localhost.example", "::2"))
    # Credentials in clear text only on loopback; https anywhere; no credentials, no rule.
    assert WebEndpoint.make("http://127.0.0.1:7779", token="t" * 20).authorization == "Bearer " + "t" * 20
    assert WebEndpoint.make("http://[::1]:7779", password="p").authorization == "Basic b3BlcmF0b3I6cA=="
    assert WebEndpoint.make("http://192.0.2.1:7779").authorization is None
    for bad in ("http://192.0.2.1:7779", "http://localhost.example"):
        with pytest.raises(heidi.InsecureConnection, match="clear text"):
            WebEndpoint.make(bad, token="secret")
    for url in ("ftp://host", "https://", "https://user:pw@host", "https://host:7779/?x=1", "https://host:99999"):
        with pytest.raises(heidi.InsecureConnection):
            WebEndpoint.make(url)
    with pytest.raises(heidi.InsecureConnection, match="not both"):
        WebEndpoint.make("https://host", token="a", password="b")
    with pytest.raises(heidi.InsecureConnection, match="need an https"):
        WebEndpoint.make("http://127.0.0.1", cafile="/etc/ssl/ca.pem")
    pinned = WebEndpoint.make("https://10.0.0.7:7779/heidi/", fingerprint="AB:" * 31 + "CD")
    assert pinned.fingerprint == "ab" * 31 + "cd" and pinned.url == "https://10.0.0.7:7779/heidi"
    assert pinned.host_header == "10.0.0.7:7779"
    assert pinned.request_bytes("GET", "/api/v1/status", None).startswith(
        b"GET /heidi/api/v1/status HTTP/1.1\r\nHost: 10.0.0.7:7779\r\n")
    with pytest.raises(heidi.InsecureConnection, match="not the pinned"):
        pinned.check_peer(b"another certificate")
    assert WebEndpoint.make("https://[::1]").host_header == "[::1]:443"
    # Where the clients look: arguments, then $HEIDI_URL unless a socket or config is named.
    for name in ("HEIDI_URL", "HEIDI_TOKEN", "HEIDI_PASSWORD", "HEIDI_USER", "HEIDI_CAFILE", "HEIDI_FINGERPRINT"):
        monkeypatch.delenv(name, raising=False)
    kwargs: dict[str, str | None] = {"socket": None, "config": None, "token": None, "password": None,
                                     "cafile": None, "fingerprint": None}
    assert endpoint_from(None, user="operator", **kwargs) is None
    monkeypatch.setenv("HEIDI_URL", "http://127.0.0.1:7779")
    monkeypatch.setenv("HEIDI_PASSWORD", "pw")
    monkeypatch.setenv("HEIDI_USER", "viewer")
    found = endpoint_from(None, user="operator", **kwargs)
    assert found is not None and found.authorization == "Basic dmlld2VyOnB3"
    assert endpoint_from(None, user="operator", **{**kwargs, "socket": "/run/heidi.sock"}) is None
    monkeypatch.setenv("HEIDI_TOKEN", "tok")
    found = endpoint_from(None, user="operator", **kwargs)
    assert found is not None and found.authorization == "Bearer tok"
    assert heidi.Client(url="http://127.0.0.1:1", token="x").socket == "http://127.0.0.1:1"


def test_web_error_mapping() -> None:
    body = b'{"error":{"code":"too_many_requests","message":"too many failed logins; retry in 42 s"}}'
    limited = error_for(429, body, "https://h:1", headers={"retry-after": "42"}, web=True)
    assert isinstance(limited, heidi.TooManyRequests) and limited.retry_after == 42.0
    unauthorized = error_for(401, b'{"error":{"code":"unauthorized","message":"wrong credentials"}}', "u", web=True)
    assert isinstance(unauthorized, heidi.AuthenticationFailed) and unauthorized.exit_code == 4
    gone = error_for(502, b'{"error":{"code":"unavailable","message":"cannot connect"}}', "u", web=True)
    assert isinstance(gone, heidi.NotRunning) and gone.exit_code == 3 and "cannot reach heidid" in str(gone)
    assert isinstance(error_for(421, b"", "u", web=True), heidi.BadRequest)


def test_child_executor_fields() -> None:
    from heidi._errors import ProtocolError
    from heidi._types import Child
    child = {"pid": 7, "pgid": 7, "argv": ["sbatch"], "started_at": "t", "elapsed_s": 1.5, "timeout_s": None}
    assert Child.from_json(child).executor is None
    slurm = {"executor": "slurm", "job_id": "42", "state": "RUNNING", "nodes": "n1"}
    assert Child.from_json({**child, "executor": slurm}).executor == slurm
    with pytest.raises(ProtocolError, match="executor"):
        Child.from_json({**child, "executor": {"job_id": 42}})
