"""Exceptions that mirror heidictl's exit codes (SPEC §6).

Every exception carries ``exit_code``, the code heidictl exits with for the same failure, so a script that wraps
the client can exit like heidictl does: ``sys.exit(err.exit_code)``.
"""

from __future__ import annotations


class HeidiError(Exception):
    """Any failure talking to heidid. ``exit_code`` 5 ("other failure") unless a subclass says otherwise."""

    exit_code: int = 5

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotRunning(HeidiError):
    """heidid is not running: no socket at ``socket``, or nothing accepts connections there (``stale``). Exit 3.
    Over heidi-web: nothing answers at the URL, or heidi-web cannot reach heidid (502); ``socket`` is the URL."""

    exit_code = 3

    def __init__(self, socket: str, stale: bool, message: str | None = None) -> None:
        if message is None and stale:
            message = (f"heidid is not running: {socket} exists but nothing accepts connections "
                       "(stale socket from a stopped daemon)")
        elif message is None:
            message = (f"heidid is not running: no control socket at {socket} "
                       "(start it with 'systemctl start heidi', or pass socket=/$HEIDI_SOCKET)")
        super().__init__(message)
        self.socket = socket
        self.stale = stale


class PermissionDenied(HeidiError):
    """The socket cannot be opened, or the daemon (or heidi-web, for a viewer) refused to be controlled (403). Exit 4.

    ``group`` is the group to join when it is known (the socket's group, or the daemon's ``control.group``).
    """

    exit_code = 4

    def __init__(self, message: str, socket: str | None = None, group: str | None = None) -> None:
        super().__init__(message)
        self.socket = socket
        self.group = group


class AuthenticationFailed(PermissionDenied):
    """heidi-web answered 401: no credentials, or a wrong token or password. Exit 4 (as permission denied)."""


class TooManyRequests(HeidiError):
    """heidi-web answered 429 after too many failed logins from this address; ``retry_after`` is the number of
    seconds it asks to wait (its ``Retry-After`` header), None when it gave none. Exit 5."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InsecureConnection(HeidiError):
    """The connection to heidi-web would not be safe, so nothing was sent: credentials over plain HTTP off
    loopback, a certificate that fails verification or does not match the pinned fingerprint, a bad URL or
    fingerprint. Exit 5."""


class Refused(HeidiError):
    """The daemon refused the action (409): ``reason`` is its explanation, e.g. "no run is active". Exit 1."""

    exit_code = 1

    def __init__(self, reason: str, code: str = "invalid_state") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class BadRequest(HeidiError, ValueError):
    """The request was malformed: refused by the client before sending (exit 2, a usage error), or answered 400,
    404, 405, 413 (or 421 by heidi-web: a Host it does not answer to) by the daemon (exit 5, as
    heidictl). ``status`` is the HTTP status, 0 when never sent."""

    def __init__(self, message: str, status: int = 0, code: str = "bad_request") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.exit_code = 2 if status == 0 else 5


class Unavailable(HeidiError):
    """The daemon answered 503 (shutting down, journal unwritable, too many connections) or 500. Exit 5."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class IncompatibleDaemon(HeidiError):
    """The daemon speaks another control API version than this package. Exit 5."""


class ProtocolError(HeidiError):
    """The daemon's answer could not be understood, or the connection ended mid-answer. Exit 5."""


class ConnectionLost(ProtocolError):
    """The connection failed after it was made (the daemon went away mid-answer). Followers reconnect."""


class PipelineFailed(HeidiError):
    """``wait()`` saw the pipeline go to ERROR instead of the state it waited for. Exit 1 (as ``heidictl wait``).

    ``status`` is the final :class:`heidi.Status`."""

    exit_code = 1

    def __init__(self, message: str, status: object) -> None:
        super().__init__(message)
        self.status = status


class WaitTimeout(HeidiError, TimeoutError):
    """``wait()`` gave up before the pipeline reached the state. Exit 5 (as ``heidictl wait``).

    ``status`` is the last :class:`heidi.Status` seen."""

    def __init__(self, message: str, status: object) -> None:
        super().__init__(message)
        self.status = status
