"""Finding the control socket the way heidictl does (SPEC §6): the argument, ``$HEIDI_SOCKET``, the config's
``control.socket`` (or ``paths.runtime_dir``), then the default runtime directory."""

from __future__ import annotations

import grp
import os
import pwd
import stat
from collections.abc import Mapping

SYSTEM_CONFIG = "/etc/heidi/heidi.yaml"


def config_path(explicit: str | None, environ: Mapping[str, str]) -> str | None:
    """The config file heidid and heidictl read: ``explicit``, ``$HEIDI_CONFIG``, or /etc/heidi/heidi.yaml."""
    if explicit:
        return explicit
    if environ.get("HEIDI_CONFIG"):
        return environ["HEIDI_CONFIG"]
    return SYSTEM_CONFIG if os.path.exists(SYSTEM_CONFIG) else None


def default_runtime_dir(environ: Mapping[str, str]) -> str:
    """``$RUNTIME_DIRECTORY`` under systemd, /run/heidi as root, else ``$XDG_RUNTIME_DIR/heidi`` or /tmp/heidi-<uid>."""
    runtime = environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    if runtime:
        return runtime
    if os.getuid() == 0:
        return "/run/heidi"
    if environ.get("XDG_RUNTIME_DIR"):
        return environ["XDG_RUNTIME_DIR"] + "/heidi"
    return f"/tmp/heidi-{os.getuid()}"


def resolve_socket(explicit: str | None = None, config: str | None = None,
                   environ: Mapping[str, str] | None = None) -> str:
    """The control socket path, by heidictl's rules."""
    env = os.environ if environ is None else environ
    if explicit:
        return explicit
    if env.get("HEIDI_SOCKET"):
        return os.path.abspath(env["HEIDI_SOCKET"])
    path = config_path(config, env)
    if path is not None:
        try:
            with open(path, encoding="utf-8") as file:
                sections = read_sections(file.read())
        except (OSError, UnicodeDecodeError, ValueError):
            sections = {}  # heidictl, too, falls back to the default when the config cannot be loaded
        base = os.path.dirname(os.path.abspath(path))
        socket = sections.get("control", {}).get("socket")
        if socket:
            return os.path.normpath(os.path.join(base, socket))
        runtime = sections.get("paths", {}).get("runtime_dir")
        if runtime:
            return os.path.normpath(os.path.join(base, runtime)) + "/heidi.sock"
    return default_runtime_dir(env) + "/heidi.sock"


def _scalar(text: str) -> str:
    """A YAML scalar on one line: quoted, or plain up to a comment."""
    text = text.strip()
    if text[:1] in ("'", '"'):
        quote = text[0]
        end = text.find(quote, 1)
        if end < 0:
            raise ValueError(f"unterminated string {text!r}")
        return text[1:end].replace("''", "'") if quote == "'" else text[1:end]
    hash_at = text.find(" #")
    return (text[:hash_at] if hash_at >= 0 else text).strip()


def _flow_mapping(text: str) -> dict[str, str]:
    """``{socket: /run/x.sock, group: heidi}``: the scalar entries of a one-line flow mapping."""
    inner = text.strip()
    if not inner.startswith("{") or "}" not in inner:
        return {}
    entries: dict[str, str] = {}
    for part in inner[1:inner.rindex("}")].split(","):
        if ":" in part:
            key, value = part.split(":", 1)
            entries[key.strip()] = _scalar(value)
    return entries


def read_sections(text: str) -> dict[str, dict[str, str]]:
    """The scalar keys of each top-level mapping of a heidi config, block or one-line flow style. Enough to find
    ``control.socket`` and ``paths.runtime_dir`` without a YAML library (heidid validates the whole file)."""
    sections: dict[str, dict[str, str]] = {}
    current: str | None = None
    child_indent: int | None = None
    lines: list[tuple[int, str]] = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
            continue
        lines.append((len(raw) - len(raw.lstrip(" ")), stripped))
    for indent, line in lines:
        if ":" not in line:
            continue
        key, value = line.split(":", 1)
        key = key.strip().strip("'\"")
        if indent == 0:
            current, child_indent = key, None
            sections[key] = _flow_mapping(value) if value.strip().startswith("{") else {}
            continue
        if current is None:
            continue
        if child_indent is None:
            child_indent = indent
        if indent == child_indent and value.strip() and not value.strip().startswith(("{", "[")):
            sections[current][key] = _scalar(value)
    return sections


def describe_blocker(path: str) -> tuple[str, str | None]:
    """Who may open ``path``: ``("owner heidi, group heidi, mode 0660", "heidi")``, or the same for the outermost
    directory above it that the caller cannot search."""
    directory = os.path.dirname(path)
    blockers: list[str] = []
    while directory not in ("/", ""):
        if not os.access(directory, os.X_OK):
            blockers.append(directory)
        directory = os.path.dirname(directory)
    target = blockers[-1] if blockers else path
    try:
        st = os.stat(target)
    except OSError as error:
        return f"cannot stat {target}: {error.strerror}", None
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    detail = f"owner {owner}, group {group}, mode 0{stat.S_IMODE(st.st_mode):o}"
    return (f"directory {target}: {detail}" if blockers else detail), group
