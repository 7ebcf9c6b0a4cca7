"""heidi: control heidid, the Heidi training-loop supervisor, from Python.

>>> import heidi
>>> client = heidi.Client()                # socket as heidictl finds it
>>> client.start("full", rounds=2)
>>> for event in client.events(follow=True):
...     print(event.seq, event.event_type, event.message)

``heidi.Client(url="https://host:7779", token=...)`` talks to heidi-web instead (or ``$HEIDI_URL``/``$HEIDI_TOKEN``).
``heidi.AsyncClient`` is the asyncio variant; ``heidi.compat.Core`` the original engine's Core interface.
"""

from ._aio import AsyncClient
from ._client import Client
from ._errors import (
    AuthenticationFailed,
    BadRequest,
    ConnectionLost,
    HeidiError,
    IncompatibleDaemon,
    InsecureConnection,
    NotRunning,
    PermissionDenied,
    PipelineFailed,
    ProtocolError,
    Refused,
    TooManyRequests,
    Unavailable,
    WaitTimeout,
)
from ._locate import resolve_socket
from ._transport import AsyncTransport, AsyncUnixSocketTransport, Response, Transport, UnixSocketTransport
from ._types import (
    MODES,
    STAGES,
    STATES,
    ActionResult,
    Child,
    Event,
    JournalHead,
    LastError,
    Metrics,
    Progress,
    Sample,
    Status,
)
from ._web import AsyncWebTransport, WebTransport

__version__ = "0.1.0"

__all__ = [
    "MODES",
    "STAGES",
    "STATES",
    "ActionResult",
    "AsyncClient",
    "AsyncTransport",
    "AsyncUnixSocketTransport",
    "AsyncWebTransport",
    "AuthenticationFailed",
    "BadRequest",
    "Child",
    "Client",
    "ConnectionLost",
    "Event",
    "HeidiError",
    "IncompatibleDaemon",
    "InsecureConnection",
    "JournalHead",
    "LastError",
    "Metrics",
    "NotRunning",
    "PermissionDenied",
    "PipelineFailed",
    "Progress",
    "ProtocolError",
    "Refused",
    "Response",
    "Sample",
    "Status",
    "TooManyRequests",
    "Transport",
    "Unavailable",
    "UnixSocketTransport",
    "WaitTimeout",
    "WebTransport",
    "__version__",
    "resolve_socket",
]
