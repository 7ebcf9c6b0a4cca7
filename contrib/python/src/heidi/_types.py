"""Typed results: the status object, action answers, journal events and metrics (SPEC §5, §7)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import ProtocolError

JSONObject = dict[str, Any]

#: The pipeline states (SPEC §2), exactly as heidid reports them.
STATES = ("IDLE", "COLLECTING", "VALIDATING", "TESTING", "FINALIZING", "EVALUATING", "ERROR")
#: The stages, in round order.
STAGES = ("generate", "validate", "test", "train", "eval")
#: Run modes.
MODES = ("full", "collect")


def parse_object(data: bytes, what: str) -> JSONObject:
    """Decodes a JSON object or raises :class:`ProtocolError` naming ``what`` was being read."""
    try:
        value = json.loads(data)
    except ValueError as error:
        raise ProtocolError(f"{what}: not JSON ({error}): {data[:200]!r}") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


class _Fields:
    """Typed reads from a decoded JSON object; a missing or mistyped key is a :class:`ProtocolError`."""

    def __init__(self, obj: Mapping[str, Any], what: str) -> None:
        self.obj = obj
        self.what = what

    def _get(self, key: str, types: tuple[type, ...], optional: bool) -> Any:
        if key not in self.obj:
            if optional:
                return None
            raise ProtocolError(f"{self.what}: key {key!r} is missing")
        value = self.obj[key]
        if value is None and optional:
            return None
        # bool is an int in Python: never accept one for the other.
        if isinstance(value, bool) != (bool in types) or not isinstance(value, types):
            expected = "/".join(t.__name__ for t in types)
            raise ProtocolError(f"{self.what}: key {key!r} has {value!r}, expected {expected}")
        return value

    def string(self, key: str) -> str:
        value: str = self._get(key, (str,), False)
        return value

    def opt_string(self, key: str) -> str | None:
        value: str | None = self._get(key, (str,), True)
        return value

    def integer(self, key: str) -> int:
        value: int = self._get(key, (int,), False)
        return value

    def opt_integer(self, key: str) -> int | None:
        value: int | None = self._get(key, (int,), True)
        return value

    def number(self, key: str) -> float:
        return float(self._get(key, (int, float), False))

    def opt_number(self, key: str) -> float | None:
        value = self._get(key, (int, float), True)
        return None if value is None else float(value)

    def flag(self, key: str, default: bool | None = None) -> bool:
        if default is not None and key not in self.obj:
            return default
        value: bool = self._get(key, (bool,), False)
        return value

    def opt_obj(self, key: str) -> JSONObject | None:
        value: JSONObject | None = self._get(key, (dict,), True)
        return value

    def obj_or_empty(self, key: str) -> JSONObject:
        return self.opt_obj(key) or {}

    def str_list(self, key: str) -> list[str]:
        value = self._get(key, (list,), True) or []
        if not all(isinstance(item, str) for item in value):
            raise ProtocolError(f"{self.what}: key {key!r} must hold strings")
        return list(value)

    def opt_strings(self, key: str) -> dict[str, str] | None:
        value = self.opt_obj(key)
        if value is not None and not all(isinstance(v, str) for v in value.values()):
            raise ProtocolError(f"{self.what}: key {key!r} must map names to strings")
        return None if value is None else dict(value)

    def numbers(self, key: str) -> dict[str, float]:
        value = self.obj_or_empty(key)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values()):
            raise ProtocolError(f"{self.what}: key {key!r} must map names to numbers")
        return {k: v for k, v in value.items()}


@dataclass(frozen=True)
class Progress:
    """A stage's progress as heidid parsed it from its output (``child.progress``)."""

    done: float | None
    total: float | None
    percent: float | None
    rate: float | None
    eta_s: float | None

    @classmethod
    def from_json(cls, obj: JSONObject) -> Progress:
        f = _Fields(obj, "status child.progress")
        return cls(f.opt_number("done"), f.opt_number("total"), f.opt_number("percent"), f.opt_number("rate"),
                   f.opt_number("eta_s"))


@dataclass(frozen=True)
class Child:
    """The running stage's child process (``status.child``)."""

    pid: int
    pgid: int
    argv: list[str]
    started_at: str
    elapsed_s: float
    timeout_s: float | None
    #: The last ``STATUS=`` line the stage sent on its progress channel.
    status: str | None
    #: Sums of the stage's ``X_HEIDI_COUNTERS`` / ``X_HEIDI_USAGE`` so far (None: no progress channel).
    counters: dict[str, float] | None
    usage: dict[str, float] | None
    #: Parsed progress (``done``/``total``/…), when the daemon reports it.
    progress: Progress | None
    #: Where the stage runs when it is not heidid's own child (SPEC §13): the executor's fields as strings, e.g.
    #: ``{"executor": "slurm", "job_id": "42", "state": "RUNNING", "nodes": "n1"}``. None for a local stage.
    executor: dict[str, str] | None = None

    @classmethod
    def from_json(cls, obj: JSONObject) -> Child:
        f = _Fields(obj, "status child")
        progress = f.opt_obj("progress")
        return cls(f.integer("pid"), f.integer("pgid"), f.str_list("argv"), f.string("started_at"),
                   f.number("elapsed_s"),
                   f.opt_number("timeout_s"), f.opt_string("status"),
                   f.numbers("counters") if f.opt_obj("counters") is not None else None,
                   f.numbers("usage") if f.opt_obj("usage") is not None else None,
                   Progress.from_json(progress) if progress else None,
                   f.opt_strings("executor"))


@dataclass(frozen=True)
class LastError:
    """Why the pipeline went to ERROR (``status.last_error``)."""

    stage: str
    round: int
    message: str
    exit_code: int | None
    signal: int | None
    at: str

    @classmethod
    def from_json(cls, obj: JSONObject) -> LastError:
        f = _Fields(obj, "status last_error")
        return cls(f.string("stage"), f.integer("round"), f.string("message"), f.opt_integer("exit_code"),
                   f.opt_integer("signal"),
                   f.string("at"))


@dataclass(frozen=True)
class JournalHead:
    """Where the journal is and its last line: ``seq`` and ``head`` (SHA-256 of that line)."""

    path: str
    seq: int
    head: str

    @classmethod
    def from_json(cls, obj: JSONObject) -> JournalHead:
        f = _Fields(obj, "status journal")
        return cls(f.string("path"), f.integer("seq"), f.string("head"))


@dataclass(frozen=True)
class Status:
    """The status object of ``GET /api/v1/status`` (SPEC §5). ``raw`` keeps every key, including ones this
    version of the package does not know."""

    api_version: int
    version: str
    pid: int
    started_at: str
    state: str
    mode: str
    run_id: str | None
    round: int
    rounds: int
    stage: str | None
    paused: bool
    pause_requested: bool
    train_now_pending: bool
    awaiting_train_now: bool
    stopping: bool
    child: Child | None
    last_error: LastError | None
    journal: JournalHead
    updated_at: str
    raw: JSONObject = field(repr=False, compare=False)

    @property
    def running(self) -> bool:
        """A run is in progress (a stage runs, or the run is paused at a boundary)."""
        return self.state not in ("IDLE", "ERROR")

    @classmethod
    def from_json(cls, obj: JSONObject) -> Status:
        f = _Fields(obj, "status")
        child = f.opt_obj("child")
        last_error = f.opt_obj("last_error")
        journal = f.opt_obj("journal")
        if journal is None:
            raise ProtocolError("status: key 'journal' is missing")
        return cls(
            api_version=f.integer("api_version"), version=f.string("version"), pid=f.integer("pid"),
            started_at=f.string("started_at"), state=f.string("state"), mode=f.string("mode"),
            run_id=f.opt_string("run_id"),
            round=f.integer("round"), rounds=f.integer("rounds"), stage=f.opt_string("stage"), paused=f.flag("paused"),
            pause_requested=f.flag("pause_requested"), train_now_pending=f.flag("train_now_pending"),
            awaiting_train_now=f.flag("awaiting_train_now", default=False), stopping=f.flag("stopping"),
            child=Child.from_json(child) if child else None,
            last_error=LastError.from_json(last_error) if last_error else None,
            journal=JournalHead.from_json(journal), updated_at=f.string("updated_at"), raw=dict(obj))


@dataclass(frozen=True)
class ActionResult:
    """The 202 answer to an accepted action: ``outcome`` is ``started``/``queued`` for train-now."""

    action: str
    outcome: str | None
    state: str
    run_id: str | None

    @classmethod
    def from_json(cls, obj: JSONObject) -> ActionResult:
        f = _Fields(obj, "action answer")
        return cls(f.string("action"), f.opt_string("outcome"), f.string("state"), f.opt_string("run_id"))


@dataclass(frozen=True)
class Event:
    """One journal line (SPEC §7). ``line`` holds its exact bytes (with the ``\\n``): hash those, never a
    re-serialisation."""

    seq: int
    ts: str
    run_id: str | None
    round: int
    stage: str | None
    level: str
    event_type: str
    message: str
    counters_delta: dict[str, float]
    usage_delta: dict[str, float]
    artifact_paths: list[str]
    prev_hash: str
    event_version: str
    line: bytes = field(repr=False)

    @classmethod
    def from_line(cls, line: bytes) -> Event:
        f = _Fields(parse_object(line, "journal line"), "journal line")
        return cls(seq=f.integer("seq"), ts=f.string("ts"), run_id=f.opt_string("run_id"), round=f.integer("round"),
                   stage=f.opt_string("stage"), level=f.string("level"), event_type=f.string("event_type"),
                   message=f.string("message"), counters_delta=f.numbers("counters_delta"),
                   usage_delta=f.numbers("usage_delta"), artifact_paths=f.str_list("artifact_paths"),
                   prev_hash=f.string("prev_hash"), event_version=f.string("event_version"), line=line)


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?')


@dataclass(frozen=True)
class Sample:
    """One Prometheus sample: ``heidi_round 2`` or ``heidi_pipeline_state{state="IDLE"} 0``."""

    name: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Metrics:
    """``GET /metrics``: the Prometheus text and its samples."""

    text: str
    samples: list[Sample]

    def get(self, name: str, **labels: str) -> float | None:
        """The value of the first sample named ``name`` whose labels include ``labels``, or None."""
        for sample in self.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
        return None

    @classmethod
    def parse(cls, text: str) -> Metrics:
        samples: list[Sample] = []
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            match = _SAMPLE.match(line)
            if match is None:
                raise ProtocolError(f"metrics: cannot read the line {line!r}")
            labels = {k: bytes(v, "utf-8").decode("unicode_escape") for k, v in _LABEL.findall(match.group(2) or "")}
            samples.append(Sample(match.group(1), labels, float(match.group(3))))
        return cls(text, samples)
