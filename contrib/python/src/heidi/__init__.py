"""heidi: control heidid, the Heidi training-loop supervisor, from Python.

>>> import heidi
>>> client = heidi.Client()                # socket as heidictl finds it
>>> client.start("full", rounds=2)
>>> for event in client.events(follow=True):
...     print(event.seq, event.event_type, event.message)

``heidi.AsyncClient`` is the asyncio variant; ``heidi.compat.Core`` the original engine's Core interface.
"""

from ._aio import AsyncClient
from ._client import Client
from ._errors import (
    BadRequest,
    ConnectionLost,
    HeidiError,
    IncompatibleDaemon,
    NotRunning,
    PermissionDenied,
    PipelineFailed,
    ProtocolError,
    Refused,
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

__version__ = "0.1.0"

__all__ = [
    "MODES",
    "STAGES",
    "STATES",
    "ActionResult",
    "AsyncClient",
    "AsyncTransport",
    "AsyncUnixSocketTransport",
    "BadRequest",
    "Child",
    "Client",
    "ConnectionLost",
    "Event",
    "HeidiError",
    "IncompatibleDaemon",
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
    "Transport",
    "Unavailable",
    "UnixSocketTransport",
    "WaitTimeout",
    "__version__",
    "resolve_socket",
]
