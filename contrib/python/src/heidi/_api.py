"""What both clients share: request targets and bodies, answer decoding, and the cursors that let a followed
stream resume after the daemon restarts without a gap or a duplicate."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlencode

from ._errors import BadRequest, ConnectionLost, HeidiError, NotRunning, PipelineFailed, WaitTimeout
from ._http import LineSplitter, error_for
from ._types import MODES, STAGES, STATES, ActionResult, Event, Status, parse_object

STATUS = "/api/v1/status"
HEALTH = "/api/v1/health"
EVENTS = "/api/v1/events"
LOGS = "/api/v1/logs"
METRICS = "/metrics"
ACTIONS = ("start", "stop", "pause", "resume", "reset", "train_now", "step")
#: Seconds a request may take before the client gives up (streams that follow have no limit).
DEFAULT_TIMEOUT = 30.0
#: Pauses before reconnecting a followed stream: after the daemon ended it, after a failed connect.
RECONNECT_AFTER_END = 0.5
RECONNECT_AFTER_ERROR = 0.2


def action_target(name: str) -> str:
    if name not in ACTIONS:
        raise BadRequest(f"unknown action {name!r} (actions: {', '.join(ACTIONS)})")
    return "/api/v1/action/" + name


def start_body(mode: str | None, rounds: int | None, paused: bool) -> bytes | None:
    body: dict[str, object] = {}
    if mode is not None:
        if mode not in MODES:
            raise BadRequest(f"mode must be 'full' or 'collect', not {mode!r}")
        body["mode"] = mode
    if rounds is not None:
        if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
            raise BadRequest(f"rounds must be an integer of at least 1, not {rounds!r}")
        body["rounds"] = rounds
    if paused:
        body["paused"] = True
    return json.dumps(body).encode() if body else None


def check_state(state: str) -> str:
    upper = state.upper()
    if upper not in STATES:
        raise BadRequest(f"unknown state {state!r} (states: {', '.join(STATES)})")
    return upper


def check_stage(stage: str) -> str:
    if stage not in STAGES:
        raise BadRequest(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})")
    return stage


def decode_action(status: int, body: bytes, where: str) -> ActionResult:
    if status not in (200, 202):
        raise error_for(status, body, where)
    return ActionResult.from_json(parse_object(body, "action answer"))


def decode_status(status: int, body: bytes, where: str) -> Status:
    if status != 200:
        raise error_for(status, body, where)
    return Status.from_json(parse_object(body, "status"))


def retryable(error: HeidiError) -> bool:
    """Failures a follower waits out (the daemon restarting), as opposed to permanent ones (permission denied,
    another API version, a malformed line)."""
    return isinstance(error, (NotRunning, ConnectionLost))


class EventCursor:
    """Follows the journal by seq: asks for lines after the last one delivered, drops any it already gave."""

    def __init__(self, after: int, follow: bool) -> None:
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise BadRequest(f"after must be a seq >= 0, not {after!r}")
        self.last_seq = after
        self.follow = follow
        self.splitter = LineSplitter()

    def target(self) -> str:
        self.splitter = LineSplitter()  # a new connection: a torn line from the old one is asked for again
        return EVENTS + "?" + urlencode({"after": self.last_seq, "follow": 1 if self.follow else 0})

    def feed(self, chunk: bytes) -> list[Event]:
        events: list[Event] = []
        for line in self.splitter.feed(chunk):
            event = Event.from_line(line)
            if event.seq > self.last_seq:
                self.last_seq = event.seq
                events.append(event)
        return events


class LogCursor:
    """Follows one stage log by line number: after a reconnect it continues after the lines already given."""

    def __init__(self, stage: str, round: int | None, follow: bool, tail: int | None) -> None:
        self.stage = check_stage(stage)
        self.round = round
        self.follow = follow
        self.tail = tail
        self.first_line = 0
        self.received = 0
        self.splitter = LineSplitter()

    def target(self) -> str:
        self.splitter = LineSplitter()
        query: dict[str, object] = {"stage": self.stage, "follow": 1 if self.follow else 0}
        if self.round is not None:
            query["round"] = self.round
        if self.received:
            query["from_line"] = self.first_line + self.received
        elif self.tail is not None:
            query["tail"] = self.tail
        return LOGS + "?" + urlencode(query)

    def on_headers(self, headers: dict[str, str]) -> None:
        if not self.received:
            self.first_line = int(headers.get("x-heidi-first-line", "0") or 0)

    def feed(self, chunk: bytes) -> list[str]:
        lines = [line[:-1].decode("utf-8", "replace") for line in self.splitter.feed(chunk)]
        self.received += len(lines)
        return lines


@dataclass
class Waiter:
    """``wait(state)``: decides from each status whether to return, fail or poll again."""

    state: str
    timeout: float | None
    started: float = 0.0

    def __post_init__(self) -> None:
        self.state = check_state(self.state)
        self.started = time.monotonic()

    def done(self, status: Status) -> bool:
        if status.state == self.state:
            return True
        if status.state == "ERROR":
            first = (status.last_error.message.splitlines() or [""])[0] if status.last_error else ""
            raise PipelineFailed(f"the pipeline went to ERROR: {first}", status)
        if self.timeout is not None and time.monotonic() - self.started >= self.timeout:
            raise WaitTimeout(f"timed out waiting for {self.state} (state is {status.state})", status)
        return False


TargetFn = Callable[[], str]
HeadersFn = Callable[[dict[str, str]], None]


def stop_finished(status: Status, started: float, timeout: float | None) -> bool:
    """``stop(wait=True)``: the stage's tree is gone and the pipeline no longer stopping."""
    if not status.stopping and status.child is None:
        return True
    if timeout is not None and time.monotonic() - started >= timeout:
        raise WaitTimeout(f"timed out waiting for the run to stop (state is {status.state})", status)
    return False
