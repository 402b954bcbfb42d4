"""App settings: how strictly an app is loaded, chosen by the operator or the app itself.

Why a separate file: the YAML definition files of an app are Wippy's format and must run
unchanged, so beamish's own knobs do not go into them. An app may carry a
``beamish.yaml`` at its root (it has no ``namespace:``/``entries:``, so the loader does
not read it as a definition file)::

    strict: true        # fail the load on the first entry beamish cannot run
    node: api-1         # this node's name in a cluster (PIDs {api-1@host|id})
    cluster: nats://nats.internal:4222   # or a mapping of ClusterConfig fields

and the environment can ask for the same with ``BEAMISH_STRICT=1`` (``true``/``yes``/
``on`` too; ``0``/``false``/``no``/``off``/empty leave it off). Strict mode is on when
*anyone* asks for it: the caller (``App(dir, strict=True)``, ``beamish run --strict``),
the app's ``beamish.yaml`` or the environment. Nobody can switch it off for the others.

Errors: a malformed ``beamish.yaml``, an unknown key in it, a non-boolean ``strict`` or
an unrecognised ``BEAMISH_STRICT`` value is a :class:`LoadError` naming the file or the
variable and the accepted values.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from beamish.actors import LoadError

__all__ = ["SETTINGS_FILE", "STRICT_ENV", "AppSettings", "load_settings", "strict_from_env"]

#: The settings file at the root of an app directory.
SETTINGS_FILE = "beamish.yaml"
#: The environment variable that turns strict loading on.
STRICT_ENV = "BEAMISH_STRICT"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})
_KEYS = ("strict", "node", "cluster")


@dataclass(frozen=True, slots=True)
class AppSettings:
    """What an app's ``beamish.yaml`` says (defaults when it has none)."""

    #: Fail the load on the first entry that cannot be loaded.
    strict: bool = False
    #: The node's name (``None``: unnamed, or ``main`` in a cluster).
    node: str | None = None
    #: The cluster to join: a NATS URL, ``embedded``, or a mapping of ClusterConfig fields.
    cluster: str | Mapping[str, Any] | None = None


def load_settings(directory: str | Path) -> AppSettings:
    """The settings in ``<directory>/beamish.yaml``; defaults when the file is absent.

    Raises :class:`LoadError` naming the file when it is not YAML, not a mapping, has an
    unknown key, or a value of the wrong type.
    """
    path = Path(directory) / SETTINGS_FILE
    if not path.is_file():
        return AppSettings()
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise LoadError(f"{path}: cannot read the app settings: {exc}") from exc
    if doc is None:
        return AppSettings()
    if not isinstance(doc, Mapping):
        raise LoadError(f"{path}: app settings must be a mapping such as 'strict: true'")
    unknown = sorted(str(k) for k in doc if k not in _KEYS)
    if unknown:
        raise LoadError(
            f"{path}: unknown app setting(s) {', '.join(unknown)}; valid keys: {', '.join(_KEYS)}"
        )
    strict = doc.get("strict", False)
    if not isinstance(strict, bool):
        raise LoadError(f"{path}: 'strict' must be true or false, got {strict!r}")
    node = doc.get("node")
    if node is not None and (not isinstance(node, str) or not node.strip()):
        raise LoadError(f"{path}: 'node' must be a node name such as 'api-1', got {node!r}")
    cluster = doc.get("cluster")
    if cluster is not None and not isinstance(cluster, (str, Mapping)):
        raise LoadError(f"{path}: 'cluster' must be a NATS URL, 'embedded' or a mapping "
                        f"(url, cluster, heartbeat, node_timeout, ...), got {cluster!r}")
    return AppSettings(strict=strict, node=node, cluster=cluster)


def strict_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``BEAMISH_STRICT`` asks for strict loading; :class:`LoadError` if unclear."""
    value = (environ if environ is not None else os.environ).get(STRICT_ENV, "")
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise LoadError(
        f"{STRICT_ENV}={value!r} is not understood; use 1/true/yes/on or 0/false/no/off"
    )
