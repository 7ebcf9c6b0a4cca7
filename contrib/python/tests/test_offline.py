"""Parts that need no daemon: the HTTP parser fed byte by byte, error mapping, config reading, and the follower's
resume logic through a scripted transport (the seam a heidi-web transport will use)."""

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
