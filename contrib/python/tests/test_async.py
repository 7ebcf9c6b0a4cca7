"""heidi.AsyncClient against a real heidid."""

from __future__ import annotations

import asyncio
import os

import pytest
from conftest import Daemon, DaemonFactory, stage_config

import heidi


def test_async_client_runs_and_reads(daemon: Daemon) -> None:
    async def main() -> None:
        async with heidi.AsyncClient(daemon.socket) as client:
            status = await client.status()
            assert status.state == "IDLE" and await client.health()
            assert (await client.metrics()).get("heidi_up") == 1.0
            result = await client.start("collect", rounds=1)
            status = await client.wait("IDLE", timeout=10)
            assert status.awaiting_train_now and status.run_id == result.run_id
            assert (await client.train_now()).outcome == "started"
            await client.wait("IDLE", timeout=10)
            events = [e async for e in client.events()]
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            assert events[-1].event_type == "pipeline_complete"
            with pytest.raises(heidi.Refused, match="reset applies only in ERROR"):
                await client.reset()
            await client.start("full", paused=True)
            await client.step()
            assert (await client.status()).state == "VALIDATING"
            with pytest.raises(heidi.Refused, match=r"pause already requested|already paused"):
                await client.pause()
            await client.resume()
            await client.wait("IDLE", timeout=10)
            with pytest.raises(heidi.BadRequest):
                await client.start("fast")

    asyncio.run(main())


def test_async_follow_sees_live_events_and_survives_a_restart(daemon: Daemon) -> None:
    async def main() -> None:
        client = heidi.AsyncClient(daemon.socket)
        seen: list[heidi.Event] = []

        async def follow() -> None:
            async for event in client.events(follow=True):
                seen.append(event)
                if [e.event_type for e in seen].count("pipeline_complete") == 2:
                    return

        task = asyncio.ensure_future(follow())
        await client.start("full", rounds=1)
        await client.wait("IDLE", timeout=10)
        await asyncio.get_running_loop().run_in_executor(None, daemon.restart)
        await client.start("full", rounds=1)
        await asyncio.wait_for(task, 20)
        seqs = [e.seq for e in seen]
        assert seqs == list(range(1, len(seqs) + 1))
        assert [e.event_type for e in seen].count("daemon_start") == 2

    asyncio.run(main())


def test_async_errors_and_logs(daemons: DaemonFactory, tmp_path: os.PathLike[str]) -> None:
    daemon = daemons(mock=False, config=stage_config(generate="echo one; echo two"))

    async def main() -> None:
        with pytest.raises(heidi.NotRunning) as error:
            await heidi.AsyncClient(os.path.join(str(tmp_path), "x.sock")).status()
        assert error.value.exit_code == 3
        client = heidi.AsyncClient(daemon.socket)
        await client.start()
        await client.wait("IDLE", timeout=20)
        assert [line async for line in client.logs("generate", round=1)] == ["one", "two"]
        assert [line async for line in client.logs("generate", round=1, tail=1)] == ["two"]
        await client.start(paused=True)
        await client.stop(wait=True, timeout=10)
        assert (await client.status()).state == "IDLE"

    asyncio.run(main())
