"""heidi.Client and heidi.AsyncClient over heidi-web (issue 20): a real heidid behind a real heidi-web with a
self-signed certificate; tokens, passwords, roles, TLS verification and following across restarts."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest
from conftest import Daemon, DaemonFactory, WebFactory, stage_config

import heidi

STAGES = stage_config(generate="echo gen-1; echo gen-2; sleep 0.5", train="echo step-1; echo step-2")


def test_every_method_over_https_with_a_token(daemons: DaemonFactory, webs: WebFactory) -> None:
    daemon = daemons(mock=False, config=STAGES)
    web = webs(daemon)
    client = web.client()
    assert client.socket == web.url and repr(client) == f"heidi.Client({web.url!r})"
    assert client.health() is True
    status = client.status()
    assert status.state == "IDLE" and status.journal.path == str(daemon.journal)
    metrics = client.metrics()
    assert metrics.get("heidi_up") == 1.0 and "heidi_web_" in metrics.text  # heidid's metrics plus heidi-web's
    with pytest.raises(heidi.Refused, match="reset applies only in ERROR") as refused:
        client.reset()
    assert refused.value.exit_code == 1
    result = client.start("full", rounds=1)
    assert result.action == "start" and result.run_id is not None
    status = client.wait("IDLE", timeout=20)
    assert status.run_id == result.run_id and status.round == 1
    events = list(client.events())
    assert b"".join(e.line for e in events) == daemon.journal.read_bytes()  # relayed byte for byte
    assert any(b"operator (token) from 127.0.0.1 via heidi-web" in e.line for e in events)  # who acted, from where
    assert [e.seq for e in client.events(after=events[-2].seq)] == [events[-1].seq]
    assert list(client.logs("generate", round=1)) == ["gen-1", "gen-2"]
    assert list(client.logs("train", round=1, tail=1)) == ["step-2"]
    # pause / step / resume / stop on a paused run, train-now refused outside collect mode
    client.start("full", rounds=1, paused=True)
    assert client.step().action == "step"
    client.wait("VALIDATING", timeout=20)
    assert client.status().paused
    with pytest.raises(heidi.Refused):
        client.train_now()
    assert client.resume().action == "resume"
    client.wait("IDLE", timeout=20)
    client.start("full", rounds=1)
    assert client.pause().action == "pause"
    client.wait("VALIDATING", timeout=20)
    client.stop(wait=True, timeout=20)
    assert client.status().state == "IDLE"
    assert client.request("POST", "/api/v1/action/start", b"{not json").status == 400
    with pytest.raises(heidi.BadRequest, match="mode must be"):
        client.start("fast")


def test_passwords_roles_and_refusals(daemon: Daemon, webs: WebFactory) -> None:
    web = webs(daemon)
    operator = web.client(token=None, password=web.PASSWORD, cafile=None, fingerprint=web.fingerprint)
    assert operator.status().state == "IDLE"
    # A viewer (password or token) reads but cannot act: 403, and nothing changes.
    for viewer in (web.client(token=web.VIEWER_TOKEN),
                   web.client(token=None, password=web.VIEWER_PASSWORD, user="viewer")):
        assert viewer.status().state == "IDLE"
        assert list(viewer.events())
        with pytest.raises(heidi.PermissionDenied, match="viewer role may not") as denied:
            viewer.start("full", rounds=1)
        assert denied.value.exit_code == 4 and not isinstance(denied.value, heidi.AuthenticationFailed)
    assert operator.status().run_id is None
    # Wrong or missing credentials: 401 as AuthenticationFailed (a PermissionDenied, exit 4).
    for stranger in (web.client(token="not-the-token-0123456789"),
                     web.client(token=None, password="wrong-password-0123456789"),
                     web.client(token=None)):
        with pytest.raises(heidi.AuthenticationFailed, match="refused the credentials") as failed:
            stranger.status()
        assert failed.value.exit_code == 4
    # heidi-web limits failed logins per address (5 a minute): 429 with Retry-After.
    wrong = web.client(token="not-the-token-0123456789")
    with pytest.raises(heidi.TooManyRequests) as limited:
        for _ in range(6):
            with contextlib.suppress(heidi.AuthenticationFailed):
                wrong.status()
    assert limited.value.retry_after is not None and limited.value.retry_after > 0


def test_tls_is_verified_and_credentials_never_go_out_in_clear(daemon: Daemon, webs: WebFactory) -> None:
    web = webs(daemon)
    # The self-signed certificate is no system CA's: refused before the request (and the token) is sent.
    with pytest.raises(heidi.InsecureConnection, match=r"TLS verification .* failed"):
        web.client(cafile=None).status()
    with pytest.raises(heidi.InsecureConnection, match="not the pinned"):
        web.client(cafile=None, fingerprint="00" * 32).status()
    assert web.client(cafile=None, fingerprint=web.fingerprint.replace(":", "").lower()).status().state == "IDLE"
    with pytest.raises(heidi.InsecureConnection, match="clear text"):
        heidi.Client(url="http://192.0.2.1:7779", token=web.TOKEN)
    with pytest.raises(heidi.InsecureConnection, match="clear text"):
        heidi.AsyncClient(url="http://heidi.example:7779", password=web.PASSWORD)
    with pytest.raises(heidi.InsecureConnection, match="fingerprint must be"):
        heidi.Client(url=web.url, token=web.TOKEN, fingerprint="abc")
    # Plain HTTP is fine on loopback (heidi-web's own default).
    plain = webs(daemon, tls=False)
    assert plain.url.startswith("http://127.0.0.1:")
    assert plain.client().status().state == "IDLE"
    plain.stop()
    with pytest.raises(heidi.NotRunning, match="heidi-web is not reachable") as gone:
        plain.client().status()
    assert gone.value.exit_code == 3


def test_environment_names_the_dashboard(daemon: Daemon, webs: WebFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    web = webs(daemon)
    monkeypatch.setenv("HEIDI_URL", web.url)
    monkeypatch.setenv("HEIDI_TOKEN", web.VIEWER_TOKEN)
    monkeypatch.setenv("HEIDI_CAFILE", web.cafile)
    monkeypatch.setenv("HEIDI_SOCKET", "/nonexistent/heidi.sock")
    client = heidi.Client()
    assert client.socket == web.url and client.status().state == "IDLE"
    with pytest.raises(heidi.PermissionDenied):
        client.start()
    assert heidi.Client(daemon.socket).socket == daemon.socket  # an explicit socket wins over $HEIDI_URL
    monkeypatch.delenv("HEIDI_TOKEN")
    monkeypatch.setenv("HEIDI_PASSWORD", web.PASSWORD)
    assert heidi.Client().start("full", rounds=1).action == "start"


def test_follow_resumes_by_seq_across_heidi_web_and_heidid_restarts(daemon: Daemon, webs: WebFactory) -> None:
    web = webs(daemon)
    client = web.client()
    seen: list[int] = []
    errors: list[BaseException] = []

    def follow() -> None:
        runs = 0
        try:
            for event in client.events(follow=True):
                seen.append(event.seq)
                runs += event.event_type == "pipeline_complete"
                if runs == 3:
                    return
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    client.start("full", rounds=2)
    client.wait("IDLE", timeout=20)
    web.restart()  # the follower's connection drops; it reconnects by seq
    client.start("full", rounds=2)
    client.wait("IDLE", timeout=20)
    daemon.restart()  # heidi-web answers 502 meanwhile: the follower waits it out
    client.start("full", rounds=2)
    status = client.wait("IDLE", timeout=20)
    thread.join(timeout=20)
    assert not errors and not thread.is_alive()
    assert seen == list(range(1, status.journal.seq + 1))  # no gap, no duplicate


def test_async_client_over_heidi_web(daemons: DaemonFactory, webs: WebFactory) -> None:
    daemon = daemons(mock=False, config=STAGES)
    web = webs(daemon)

    async def main() -> None:
        async with web.async_client(cafile=None, fingerprint=web.fingerprint) as client:
            assert client.socket == web.url and await client.health()
            assert (await client.metrics()).get("heidi_up") == 1.0
            result = await client.start("full", rounds=1)
            status = await client.wait("IDLE", timeout=20)
            assert status.run_id == result.run_id
            events = [e async for e in client.events()]
            assert b"".join(e.line for e in events) == daemon.journal.read_bytes()
            assert [line async for line in client.logs("generate", round=1)] == ["gen-1", "gen-2"]
            with pytest.raises(heidi.Refused, match="reset applies only in ERROR"):
                await client.reset()
            await client.start("full", paused=True)
            await client.step()
            await client.resume()
            await client.wait("IDLE", timeout=20)
            followed = []
            async for event in client.events(after=events[-3].seq, follow=True):
                followed.append(event.seq)
                if len(followed) == 2:
                    break
            assert followed == [events[-2].seq, events[-1].seq]
        async with web.async_client(token=web.VIEWER_TOKEN) as viewer:
            assert (await viewer.status()).state == "IDLE"
            with pytest.raises(heidi.PermissionDenied, match="viewer role may not"):
                await viewer.start()
        with pytest.raises(heidi.AuthenticationFailed):
            await web.async_client(token="not-the-token-0123456789").status()
        with pytest.raises(heidi.InsecureConnection, match="TLS verification"):
            await web.async_client(cafile=None).status()

    asyncio.run(main())
