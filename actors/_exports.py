"""Facade support: public names report the facade as their module.

Each package of beamish is private modules behind a re-exporting ``__init__`` (as in
trio and httpx). Without help, ``repr``, tracebacks and docs would show
``beamish.actors._node.Node``; :func:`publish` rewrites ``__module__`` of every name in
the facade's ``__all__`` that comes from one of its private modules, so they read
``beamish.actors.Node``. Trio does the same with ``fixup_module_metadata``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["publish"]


def publish(namespace: dict[str, Any]) -> None:
    """Call at the end of a facade ``__init__`` with ``globals()``."""
    facade = namespace["__name__"]
    prefix = facade + "."
    for name in namespace["__all__"]:
        obj = namespace[name]
        if getattr(obj, "__module__", "").startswith(prefix):
            try:
                obj.__module__ = facade
            except (AttributeError, TypeError):  # e.g. constants, builtin instances
                pass
