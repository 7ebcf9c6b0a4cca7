#!/usr/bin/env python3
"""Assertions of the systemd end-to-end test that read JSON (run on the host, on outputs captured from the container).

  checks.py get FILE KEY[.KEY...]                 print a value of a JSON document ("null" for null/missing)
  checks.py events EVENTS_JSONL TYPE [RUN_ID]      print how many journal events of TYPE (for RUN_ID) there are
  checks.py event-mirror JOURNAL_JSON EVENTS_JSONL UNIT
        every line of events.jsonl has its journald entry with the SPEC §7 fields: MESSAGE, PRIORITY (from level),
        SYSLOG_IDENTIFIER=heidid, MESSAGE_ID (fixed per event type), HEIDI_EVENT_TYPE, HEIDI_SEQ, HEIDI_HASH
        (SHA-256 of the exact line), HEIDI_RUN_ID, HEIDI_ROUND, HEIDI_STAGE, and _SYSTEMD_UNIT=UNIT
  checks.py child-lines JOURNAL_JSON EVENTS_JSONL RUN_ID ROUNDS STAGE...
        every STAGE of every round 1..ROUNDS of RUN_ID forwarded output to journald with SYSLOG_IDENTIFIER=heidi-<stage>,
        HEIDI_STAGE, HEIDI_ROUND, HEIDI_RUN_ID, HEIDI_CHILD_PID (the pid its stage_end event names), PRIORITY 6
        (stdout) / 4 (stderr), _SYSTEMD_UNIT
  checks.py own-logs JOURNAL_JSON MAINPID
        heidid's own log lines are structured journald entries (HEIDI_LOGGER, CODE_FILE, PRIORITY), not plain stderr text
  checks.py exposure TEXT_FILE MAX                 "Overall exposure level for X: N" of systemd-analyze security is <= MAX

Exit status: 0 when the assertion holds, 1 with the reasons on stdout when it does not, 2 for bad input.
"""
import hashlib
import json
import re
import sys

PRIORITY = {"debug": "7", "info": "6", "warn": "4", "error": "3", "critical": "2"}


def message_id(event_type):
    return hashlib.sha256(("heidi.event." + event_type).encode()).hexdigest()[:32]


def load_journal(path):
    entries = []
    with open(path, "rb") as f:
        for raw in f:
            raw = raw.strip()
            if not raw:
                continue
            entry = json.loads(raw)
            # journalctl -o json renders binary-unsafe values as byte arrays; make them text for comparisons.
            for key, value in list(entry.items()):
                if isinstance(value, list) and all(isinstance(b, int) for b in value):
                    entry[key] = bytes(value).decode("utf-8", "replace")
            entries.append(entry)
    return entries


def load_events(path):
    with open(path, "rb") as f:
        return [(line, json.loads(line)) for line in f if line.strip()]


def fail(reasons):
    for reason in reasons[:20]:
        print(reason)
    if len(reasons) > 20:
        print("... and %d more" % (len(reasons) - 20))
    sys.exit(1)


def cmd_get(path, key):
    with open(path) as f:
        value = json.load(f)
    for part in key.split("."):
        if isinstance(value, list):
            value = value[int(part)] if part.isdigit() and int(part) < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
        else:
            value = None
    print("null" if value is None else (json.dumps(value) if isinstance(value, (dict, list)) else value))


def cmd_events(path, event_type, run_id=None):
    count = sum(1 for _, e in load_events(path)
                if e["event_type"] == event_type and (run_id is None or e.get("run_id") == run_id))
    print(count)


def cmd_event_mirror(journal_path, events_path, unit):
    entries = [e for e in load_journal(journal_path) if "HEIDI_SEQ" in e and e.get("SYSLOG_IDENTIFIER") == "heidid"]
    by_seq = {}
    for e in entries:
        by_seq.setdefault(e["HEIDI_SEQ"], []).append(e)
    reasons = []
    events = load_events(events_path)
    if not events:
        fail(["%s holds no events" % events_path])
    types = set()
    for line, ev in events:
        seq = str(ev["seq"])
        found = by_seq.get(seq, [])
        if len(found) != 1:
            reasons.append("seq %s (%s): %d journald entries with HEIDI_SEQ=%s, expected 1" % (seq, ev["event_type"], len(found), seq))
            continue
        j = found[0]
        expected = {
            "MESSAGE": ev["message"],
            "PRIORITY": PRIORITY[ev["level"]],
            "SYSLOG_IDENTIFIER": "heidid",
            "MESSAGE_ID": message_id(ev["event_type"]),
            "HEIDI_EVENT_TYPE": ev["event_type"],
            "HEIDI_HASH": hashlib.sha256(line).hexdigest(),
            "HEIDI_RUN_ID": ev["run_id"] or "",
            "HEIDI_ROUND": str(ev["round"]),
            "HEIDI_STAGE": ev["stage"] or "",
            "_SYSTEMD_UNIT": unit,
            "_TRANSPORT": "journal",
        }
        for key, want in expected.items():
            if j.get(key) != want:
                reasons.append("seq %s (%s): %s is %r, expected %r" % (seq, ev["event_type"], key, j.get(key), want))
        types.add(ev["event_type"])
    ids = {}
    for e in entries:
        ids.setdefault(e.get("HEIDI_EVENT_TYPE"), set()).add(e.get("MESSAGE_ID"))
    for event_type, seen in ids.items():
        if len(seen) != 1:
            reasons.append("event type %s has several MESSAGE_IDs: %s" % (event_type, sorted(map(str, seen))))
    if len({next(iter(v)) for v in ids.values()}) != len(ids):
        reasons.append("two event types share a MESSAGE_ID")
    if reasons:
        fail(reasons)
    print("%d events, %d types (%s) mirrored with all fields" % (len(events), len(types), " ".join(sorted(types))))


def cmd_child_lines(journal_path, events_path, run_id, rounds, *stages):
    entries = [e for e in load_journal(journal_path) if e.get("HEIDI_RUN_ID") == run_id and "HEIDI_CHILD_PID" in e]
    stage_pids = {}
    for _, ev in load_events(events_path):
        if ev["event_type"] == "stage_end" and ev.get("run_id") == run_id:
            m = re.search(r"\bpid (\d+)", ev["message"])
            if m:
                stage_pids[(ev["stage"], str(ev["round"]))] = m.group(1)
    reasons = []
    for e in entries:
        stage = e.get("HEIDI_STAGE", "")
        where = "line %r" % e.get("MESSAGE", "")[:60]
        if e.get("SYSLOG_IDENTIFIER") != "heidi-" + stage:
            reasons.append("%s: SYSLOG_IDENTIFIER %r for HEIDI_STAGE %r" % (where, e.get("SYSLOG_IDENTIFIER"), stage))
        if e.get("PRIORITY") not in ("6", "4"):
            reasons.append("%s: PRIORITY %r, expected 6 (stdout) or 4 (stderr)" % (where, e.get("PRIORITY")))
        if not re.fullmatch(r"[1-9][0-9]*", e.get("HEIDI_CHILD_PID", "")):
            reasons.append("%s: HEIDI_CHILD_PID %r is not a pid" % (where, e.get("HEIDI_CHILD_PID")))
        if e.get("_SYSTEMD_UNIT") != "heidi.service":
            reasons.append("%s: _SYSTEMD_UNIT %r" % (where, e.get("_SYSTEMD_UNIT")))
    summary = []
    for r in range(1, int(rounds) + 1):
        for stage in stages:
            lines = [e for e in entries if e.get("HEIDI_STAGE") == stage and e.get("HEIDI_ROUND") == str(r)]
            if not lines:
                reasons.append("round %d, stage %s: no output line in journald" % (r, stage))
                continue
            pids = {e["HEIDI_CHILD_PID"] for e in lines}
            want = stage_pids.get((stage, str(r)))
            if want is None:
                reasons.append("round %d, stage %s: no stage_end event naming the pid" % (r, stage))
            elif pids != {want}:
                reasons.append("round %d, stage %s: HEIDI_CHILD_PID %s, but the stage's pid is %s" % (r, stage, sorted(pids), want))
            summary.append("%s/%d:%d" % (stage, r, len(lines)))
    train = [e for e in entries if e.get("HEIDI_STAGE") == "train" and re.match(r"step \d+/\d+ loss=", e.get("MESSAGE", ""))]
    if "train" in stages and not all(e.get("PRIORITY") == "6" for e in train):
        reasons.append("train's stdout step lines must have PRIORITY 6")
    if "train" in stages and not train:
        reasons.append("no 'step N/M loss=' line of train in journald")
    if reasons:
        fail(reasons)
    print("child output in journald (stage/round:lines): " + " ".join(summary))


def cmd_own_logs(journal_path, main_pid):
    entries = [e for e in load_journal(journal_path) if e.get("_PID") == main_pid]
    structured = [e for e in entries if "HEIDI_LOGGER" in e]
    plain = [e for e in entries if e.get("_TRANSPORT") == "stdout"]
    reasons = []
    if not structured:
        reasons.append("no journald entry of heidid (pid %s) has HEIDI_LOGGER: its own logs are not structured" % main_pid)
    for e in structured:
        for key in ("CODE_FILE", "CODE_LINE", "PRIORITY"):
            if key not in e:
                reasons.append("log entry %r has no %s" % (e.get("MESSAGE", "")[:60], key))
        if e.get("SYSLOG_IDENTIFIER") != "heidid":
            reasons.append("log entry %r: SYSLOG_IDENTIFIER %r" % (e.get("MESSAGE", "")[:60], e.get("SYSLOG_IDENTIFIER")))
    for e in plain:
        reasons.append("plain stderr/stdout text from heidid (not structured): %r" % e.get("MESSAGE", "")[:100])
    if reasons:
        fail(reasons)
    print("%d structured log entries of heidid, e.g. %r" % (len(structured), structured[0].get("MESSAGE", "")[:80]))


def cmd_exposure(path, maximum):
    text = open(path, encoding="utf-8", errors="replace").read()
    m = re.search(r"Overall exposure level for (\S+): ([0-9.]+)", text)
    if not m:
        fail(["no 'Overall exposure level' line in the output of systemd-analyze security"])
    if float(m.group(2)) > float(maximum):
        fail(["exposure of %s is %s, above %s" % (m.group(1), m.group(2), maximum)])
    print("exposure of %s: %s (<= %s)" % (m.group(1), m.group(2), maximum))


COMMANDS = {"get": cmd_get, "events": cmd_events, "event-mirror": cmd_event_mirror, "child-lines": cmd_child_lines,
            "own-logs": cmd_own_logs, "exposure": cmd_exposure}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        sys.exit(2)
    try:
        COMMANDS[sys.argv[1]](*sys.argv[2:])
    except TypeError as e:
        print("bad arguments for %s: %s" % (sys.argv[1], e))
        sys.exit(2)
    except (OSError, ValueError, KeyError) as e:
        print("%s: %s: %s" % (sys.argv[1], type(e).__name__, e))
        sys.exit(1)
