"""Lua's pattern functions (find, match, gmatch, gsub) written in Lua, so they can be metered.

The Lua itself is ``lua/patterns.lua`` (package data, read by :mod:`._lua_sources`);
this module documents its design and names the file for :mod:`._runtime`.

Why it exists: the sandbox stops a runaway script with a count hook, which fires only
between Lua instructions. The C pattern matcher of ``lstrlib.c`` backtracks inside one
instruction, so ``string.find(("a"):rep(1e5), ".-.-.-.-b")`` keeps the host busy for
hours and no hook ever sees it. The sandbox therefore keeps the fast C functions for
patterns that are provably cheap and sends the others here: the same algorithm, run as
Lua code, where every step is an instruction the hook counts and can stop.

Design chosen:

* **A port, not a rewrite.** The matcher follows ``lstrlib.c`` (Lua 5.4/5.5) function for
  function: ``match`` with its tail calls turned into a loop (as C's ``goto init``),
  ``max_expand``, ``min_expand``, capture start/end (inlined), back-references,
  ``%b``, the ``%f`` frontier, bracket classes and the ASCII ``<ctype.h>`` classes of the
  C locale (plus the deprecated ``%z``). Errors are raised exactly where C raises them,
  with C's messages, and lazily like C (a malformed tail the matcher never reaches is
  no error). The nesting limit is C's ``MAXCCALLS`` (200 nested ``match`` calls, then
  "pattern too complex"); at most 32 captures.
* **State in upvalues.** The subject, the pattern (as a table of its bytes, built once
  per call; a proxy reading bytes on demand for very long patterns) and the capture
  arrays live in upvalues of the chunk, not in a per-call closure or table, so the
  inner loop allocates nothing (a back-reference compares two substrings). Only user
  code can interleave two matches (a ``gsub`` replacement function or ``__index``, or
  the body of a ``gmatch`` loop), so ``gsub`` reinstalls its state after every such
  call and each ``gmatch`` step installs its own.
* **Errors point at the caller.** C's ``luaL_error`` names the line of the Lua code that
  called ``string.find``; here an error walks the stack past the chunk's own functions
  and raises at the first foreign frame, so the prefix is the same. Argument errors use
  the calling frame's name, as ``luaL_argerror`` does.

``cost(pattern, plain)`` is the cheap test the caller runs first. It returns ``q``, the
number of unbounded repetition items (a single-character class followed by ``*``,
``+`` or ``-``; each ``%b`` also counts 1; ``?`` items, back-references, captures,
anchors and ``%f`` count 0), and 0 when ``plain`` is true or the pattern has none of
``^$*+?.([%-``. For a subject of length n the C matcher's worst case is then about
``n^(q+1)`` steps. Two more return values refine that bound: ``k``, the number of
``?`` items, and ``r``, the number of back-references. Each ``?`` can double the work
(``("a?"):rep(k)..("a"):rep(k)`` is exponential in k) and each back-reference compares
up to n bytes per attempt, so the full worst case is about ``n^(q+1+r) * 2^k``; a caller
that reads only ``q`` trusts such patterns too much.

Known differences from C, all outside what a pattern means: a ``gsub`` replacement
function may yield here (C refuses to yield across its C call); when a script
tail-calls the port (``return string.find(s, "%")``) its frame is gone before the error
is raised, so the message names the line of the script's caller, and an argument error
there says "find" where C says "string.find" (``pushglobalfuncname`` is not imitated,
nor "light userdata" in type errors). The classes are ASCII whatever the
host's ``LC_CTYPE``; C agrees under the C and UTF-8 locales, not under Latin-1 ones.
"""

from __future__ import annotations

from ._lua_sources import HostLua

__all__ = ["PATTERNS", "PATTERNS_LUA"]

#: The matcher, ``lua/patterns.lua``: running it returns ``{find, match, gmatch, gsub,
#: cost}`` (the sandbox hands that table to the prelude).
PATTERNS = HostLua("beamish.luabridge", "patterns.lua")
#: Its text, for running the matcher on a bare runtime (its tests compare it with C).
PATTERNS_LUA: str = PATTERNS.text()
