"""Helpers shared by the demo stage scripts in this directory (generate,
validate, unit_test, train, eval): the best-effort $HEIDI_NOTIFY_SOCKET
datagram, atomic file/JSONL writers, the input-lines reader with the stages'
error messages, argparse value types and the $HEIDI_ROUND default.

The scripts are run as `python3 .../contrib/demo/<stage>.py`, so Python puts
this directory first on sys.path and a plain `from demo_common import ...`
finds this module whatever the working directory. Standard library only.
"""

import argparse
import json
import os
import socket
import sys
import tempfile


def notify(message):
    """Best-effort sd_notify-style datagram to $HEIDI_NOTIFY_SOCKET."""
    addr = os.environ.get("HEIDI_NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.setblocking(False)
            s.sendto(message.encode("utf-8"), addr)
    except OSError:
        pass


def atomic_write_text(path, text):
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=parent)
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def write_output(path, text):
    """atomic_write_text(); on OSError print "[ERROR] cannot write PATH: reason"
    to stderr and return False. Returns True once the file is in place."""
    try:
        atomic_write_text(path, text)
    except OSError as e:
        print("[ERROR] cannot write %s: %s" % (path, e.strerror or e), file=sys.stderr)
        return False
    return True


def write_jsonl(path, records):
    """write_output() of RECORDS as JSON Lines (ensure_ascii=False)."""
    return write_output(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def read_input_lines(path, missing_message, keep_blank=False):
    """The lines of the UTF-8 text file PATH, blank ones dropped unless
    keep_blank. If PATH is not a file, print "[ERROR] <missing_message>: PATH",
    if it cannot be read "[ERROR] cannot read PATH: reason", to stderr and
    return None."""
    if not os.path.isfile(path):
        print("[ERROR] %s: %s" % (missing_message, path), file=sys.stderr)
        return None
    try:
        with open(path, "r", encoding="utf-8") as f:
            lines = f.readlines()
    except (OSError, UnicodeDecodeError) as e:
        print("[ERROR] cannot read %s: %s" % (path, e), file=sys.stderr)
        return None
    return lines if keep_blank else [line for line in lines if line.strip()]


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a positive integer, got %r" % text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a positive integer, got %r" % text)
    return value


def int_arg(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected an integer, got %r" % text)


def env_round(default=1):
    try:
        value = int(os.environ.get("HEIDI_ROUND", ""))
        return value if value >= 1 else default
    except ValueError:
        return default
