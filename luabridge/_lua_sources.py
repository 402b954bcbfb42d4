"""Host Lua files: the Lua beamish itself ships, read from package data once per process.

Why files: the host's own Lua (the sandbox prelude, the pattern matcher, the modules'
implementations, Temporal's ``workflow`` module) is real code, a few thousand lines of
it. As ``.lua`` files in a ``lua/`` folder of their package it can be read, linted and
diffed by Lua tooling, and a compile error names the file and its real line instead of
a line counted inside a Python string.

Contract: a :class:`HostLua` names one such file (a package and a file name); it is a
small immutable value, cheap to create at import time, and reads nothing until asked.
:meth:`HostLua.text` returns the file's text, read with :mod:`importlib.resources` the
first time any code asks for it and cached for the life of the Python process (the
files are package data: they never change under a running process). The chunk name
of a host file is its package-relative path, ``@beamish/luabridge/lua/process.lua``:
the compile path (``_runtime.host_bytecode``) loads the text under that name, so a
syntax error reports ``beamish/luabridge/lua/process.lua:12:``, and then strips line
information from the bytecode on purpose, so errors raised at run time by host code on
a script's behalf carry no host position.

Failure: a file missing from the installed package (a wheel built without its
package data, a damaged install) or not UTF-8 raises :class:`~beamish.actors.Error`
of kind ``Internal`` naming the file, when it is first read.

Thread-safe: workflow sandboxes are built on Temporal's worker threads; two threads
reading the same file at once both read it and store the same text.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from beamish.actors import Error, ErrorKind

__all__ = ["LUA_FOLDER", "HostLua", "shipped_lua_files"]

#: The folder of a package that holds its host Lua files.
LUA_FOLDER = "lua"

#: (package, file name) -> text, filled on first read.
_TEXT: dict[tuple[str, str], str] = {}


@dataclass(frozen=True, slots=True)
class HostLua:
    """One host Lua file: ``filename`` in the ``lua/`` folder of ``package``.

    ``package`` is the import name (``"beamish.luabridge"``), ``filename`` a plain file
    name (``"process.lua"``). Pass it where host Lua is expected
    (:meth:`Sandbox.eval_privileged <beamish.luabridge.Sandbox.eval_privileged>`,
    :meth:`Sandbox.install_lazy_modules <beamish.luabridge.Sandbox.install_lazy_modules>`);
    it is compiled once per process under :attr:`chunkname`.
    """

    package: str
    filename: str

    def __post_init__(self) -> None:
        if not self.filename.endswith(".lua") or "/" in self.filename or "\\" in self.filename:
            raise ValueError(
                f"host Lua file name {self.filename!r} must be a plain '<name>.lua' in "
                f"the {LUA_FOLDER}/ folder of {self.package}")

    @property
    def path(self) -> str:
        """The package-relative path, e.g. ``beamish/luabridge/lua/process.lua``."""
        return f"{self.package.replace('.', '/')}/{LUA_FOLDER}/{self.filename}"

    @property
    def chunkname(self) -> str:
        """The Lua chunk name: ``"@"`` + :attr:`path` (Lua then reports ``path:line:``)."""
        return "@" + self.path

    def text(self) -> str:
        """The file's text (read once per process); raises an ``Internal`` :class:`Error`
        if the installed package lacks the file or it is not UTF-8."""
        key = (self.package, self.filename)
        text = _TEXT.get(key)
        if text is None:
            text = _TEXT[key] = self._read()
        return text

    def _read(self) -> str:
        try:
            data = resources.files(self.package).joinpath(LUA_FOLDER, self.filename).read_bytes()
        except (OSError, ModuleNotFoundError) as exc:
            raise Error(
                f"host Lua file {self.path} cannot be read ({exc}); the installed beamish "
                "is incomplete (a wheel built without its package data?): reinstall it",
                kind=ErrorKind.INTERNAL, retryable=False, details={"path": self.path},
            ) from exc
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Error(
                f"host Lua file {self.path} is not UTF-8 ({exc}); the installed beamish "
                "is damaged: reinstall it",
                kind=ErrorKind.INTERNAL, retryable=False, details={"path": self.path},
            ) from exc


def shipped_lua_files(package: str) -> list[str]:
    """The names of the ``.lua`` files in ``package``'s ``lua/`` folder, sorted (empty if
    it has none): what an installation actually ships, for checks and diagnostics."""
    folder = resources.files(package).joinpath(LUA_FOLDER)
    if not folder.is_dir():
        return []
    return sorted(f.name for f in folder.iterdir() if f.name.endswith(".lua") and f.is_file())
