"""Process groups: Erlang's ``pg`` (and Wippy's ``pg`` module) on the kernel.

What it is for
    A *group* is a name under which any number of processes gather, so a sender can
    reach "every worker" or "every chat room member" without knowing their PIDs. Groups
    live in a *scope* (a ``pg.scope`` entry, or any string), so two subsystems never
    share a group by accident. Membership spans the cluster: ``get_members`` lists the
    members on every node, ``get_local_members`` this node's only.

Design chosen (Erlang's ``pg``, not a central store)
    * Each node owns the memberships of its own processes and tells its peers about
      every join and leave (the cluster layer's :class:`Replicator`); a node that joins
      the cluster is sent each peer's local memberships. Reads are local dictionary
      lookups, with no round trip, and eventually consistent across nodes: a join on
      node A is seen on node B once A's frame arrives, in order with A's later messages.
    * Only local processes may join or leave (OTP's rule): the node that runs a process
      is the one that knows when it exits. A member that exits leaves every group; the
      members of a node that goes down leave on every other node.
    * A process may join one group several times and is then listed that many times
      (OTP's rule); ``leave`` removes one membership.
    * Monitors (``monitor(group)``, or the whole scope with ``group=None``) receive a
      message per change on the topic they chose, shaped like Wippy's event:
      ``{"system": "pg", "kind": "member.joined" | "member.left", "path": group,
      "data": {"Group": group, "PIDs": [pid strings]}}``. Subscribing returns the
      current members in the same step, so no change falls between.

Invariants
    * ``_members[scope][group]`` lists each membership once, local and remote, in join
      order; ``_local[scope][group]`` is the local part of it; empty groups are deleted.
    * ``_joined[pid]`` holds the ``(scope, group)`` of each local membership, so an
      exit costs one dict lookup for a process in no group.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from ._errors import Error, ErrorKind
from ._pid import Pid

if TYPE_CHECKING:
    from ._node import Node

__all__ = ["JOINED", "LEFT", "Groups", "PgScope", "ProcessGroups", "Replicator"]

JOINED = "member.joined"
LEFT = "member.left"


class Replicator(Protocol):
    """What the cluster layer does with local membership changes."""

    def pg_changed(self, kind: str, scope: str, group: str, pids: list[Pid]) -> None: ...


def _groups_arg(groups: str | Iterable[str]) -> list[str]:
    names = [groups] if isinstance(groups, str) else list(groups)
    if not names:
        raise Error("groups must not be empty", kind=ErrorKind.INVALID, retryable=False)
    for g in names:
        if not isinstance(g, str) or not g:
            raise Error("a group name must be a non-empty string", kind=ErrorKind.INVALID,
                        retryable=False)
    return names


class PgScope:
    """One scope's groups, seen from this node. Get it with ``node.groups.scope(id)``."""

    def __init__(self, owner: ProcessGroups, name: str) -> None:
        self._owner = owner
        self.name = name
        self._members: dict[str, list[Pid]] = {}
        self._local: dict[str, list[Pid]] = {}
        #: group (None: every group) -> {(watcher, topic)}
        self._monitors: dict[str | None, set[tuple[Pid, str]]] = {}

    # -- changes ---------------------------------------------------------------------

    def join(self, pid: Pid, groups: str | Iterable[str]) -> None:
        """Add local process ``pid`` to ``groups`` (a name or several).

        Raises ``Error(INVALID)`` for a process of another node and
        :class:`ProcessNotFound` for one that is not alive."""
        names = _groups_arg(groups)
        node = self._owner.node
        if pid.node != node.node_name:
            raise Error(f"pg: only a process of this node can join a group here; {pid} "
                        f"runs on node {pid.node!r}: call join there",
                        kind=ErrorKind.INVALID, retryable=False)
        if pid not in node._procs:
            raise node.not_found(pid)
        joined = self._owner._joined.setdefault(pid, [])
        for g in names:
            self._members.setdefault(g, []).append(pid)
            self._local.setdefault(g, []).append(pid)
            joined.append((self.name, g))
            self._changed(JOINED, g, [pid], local=True)

    def leave(self, pid: Pid, groups: str | Iterable[str]) -> bool:
        """Remove one membership of ``pid`` in each of ``groups``; False when it was in
        none of them."""
        names = _groups_arg(groups)
        joined = self._owner._joined.get(pid)
        left = False
        for g in names:
            if joined is None or (self.name, g) not in joined:
                continue
            joined.remove((self.name, g))
            self._drop(self._local, g, pid)
            self._drop(self._members, g, pid)
            self._changed(LEFT, g, [pid], local=True)
            left = True
        if joined is not None and not joined:
            del self._owner._joined[pid]
        return left

    # -- reads -------------------------------------------------------------------------

    def get_members(self, group: str) -> list[Pid]:
        """Every member of ``group`` on every node (a PID once per membership)."""
        return list(self._members.get(group, ()))

    def get_local_members(self, group: str) -> list[Pid]:
        return list(self._local.get(group, ()))

    def which_groups(self) -> list[str]:
        return sorted(self._members)

    def which_local_groups(self) -> list[str]:
        return sorted(self._local)

    # -- sending -------------------------------------------------------------------------

    def broadcast(self, sender: Pid | None, group: str, topic: str, *payload: Any) -> int:
        """Send ``topic``/``payload`` to every member (once per process); returns how
        many processes it was sent to. Members that vanished meanwhile are skipped."""
        return self._send_all(self._members.get(group, ()), sender, topic, payload)

    def broadcast_local(self, sender: Pid | None, group: str, topic: str, *payload: Any) -> int:
        return self._send_all(self._local.get(group, ()), sender, topic, payload)

    def _send_all(self, pids: Iterable[Pid], sender: Pid | None, topic: str,
                  payload: tuple[Any, ...]) -> int:
        node = self._owner.node
        sent = 0
        for pid in dict.fromkeys(pids):
            try:
                node._send(pid, topic, payload, sender)
            except Error as exc:
                if exc.kind is not ErrorKind.NOT_FOUND:
                    raise
            else:
                sent += 1
        return sent

    # -- monitors ------------------------------------------------------------------------

    def monitor(
        self, watcher: Pid, group: str | None, topic: str
    ) -> list[Pid] | dict[str, list[Pid]]:
        """Send ``watcher`` a message on ``topic`` for each join and leave in ``group``
        (every group when None). Returns the current members (a dict of group to
        members for the whole scope), taken in the same step."""
        self._monitors.setdefault(group, set()).add((watcher, topic))
        self._owner._watching.setdefault(watcher, set()).add((self.name, group, topic))
        if group is None:
            return {g: list(m) for g, m in self._members.items()}
        return self.get_members(group)

    def demonitor(self, watcher: Pid, group: str | None, topic: str | None = None) -> None:
        subs = self._monitors.get(group)
        if not subs:
            return
        for sub in [s for s in subs if s[0] == watcher and topic in (None, s[1])]:
            subs.discard(sub)
        if not subs:
            del self._monitors[group]

    # -- bookkeeping ---------------------------------------------------------------------

    @staticmethod
    def _drop(table: dict[str, list[Pid]], group: str, pid: Pid) -> None:
        members = table.get(group)
        if members is not None:
            try:
                members.remove(pid)
            except ValueError:
                return
            if not members:
                del table[group]

    def _changed(self, kind: str, group: str, pids: list[Pid], *, local: bool) -> None:
        if local and self._owner.replicator is not None:
            self._owner.replicator.pg_changed(kind, self.name, group, pids)
        subs = [*self._monitors.get(group, ()), *self._monitors.get(None, ())]
        if not subs:
            return
        event = {"system": "pg", "kind": kind, "path": group,
                 "data": {"Group": group, "PIDs": [str(p) for p in pids]}}
        node = self._owner.node
        for watcher, topic in subs:
            try:
                node._send(watcher, topic, (event,), None)
            except Error:
                self.demonitor(watcher, None if (watcher, topic) in
                               self._monitors.get(None, ()) else group, topic)

    def apply(self, kind: str, group: str, pids: list[Pid]) -> None:
        """A peer's change (from the cluster layer): update the view, tell monitors."""
        if kind == JOINED:
            self._members.setdefault(group, []).extend(pids)
        else:
            for pid in pids:
                self._drop(self._members, group, pid)
        self._changed(kind, group, pids, local=False)

    def __repr__(self) -> str:
        return f"<pg.PgScope {self.name} groups={len(self._members)}>"


class Groups:
    """A scope as one process uses it (``ctx.pg("app:pg")``): joins and leaves are the
    process's own, broadcasts come from it, monitor events reach it."""

    __slots__ = ("pid", "scope")

    def __init__(self, scope: PgScope, pid: Pid) -> None:
        self.scope = scope
        self.pid = pid

    def join(self, groups: str | Iterable[str]) -> None:
        self.scope.join(self.pid, groups)

    def leave(self, groups: str | Iterable[str]) -> bool:
        return self.scope.leave(self.pid, groups)

    def get_members(self, group: str) -> list[Pid]:
        return self.scope.get_members(group)

    def get_local_members(self, group: str) -> list[Pid]:
        return self.scope.get_local_members(group)

    def which_groups(self) -> list[str]:
        return self.scope.which_groups()

    def which_local_groups(self) -> list[str]:
        return self.scope.which_local_groups()

    def broadcast(self, group: str, topic: str, *payload: Any) -> int:
        return self.scope.broadcast(self.pid, group, topic, *payload)

    def broadcast_local(self, group: str, topic: str, *payload: Any) -> int:
        return self.scope.broadcast_local(self.pid, group, topic, *payload)

    def monitor(
        self, group: str | None = None, topic: str = "pg.events"
    ) -> list[Pid] | dict[str, list[Pid]]:
        """Receive a message on ``topic`` per join and leave in ``group`` (every group
        when None); returns the members now."""
        return self.scope.monitor(self.pid, group, topic)

    def demonitor(self, group: str | None = None, topic: str | None = None) -> None:
        self.scope.demonitor(self.pid, group, topic)


class ProcessGroups:
    """Every scope on a node (``node.groups``)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._scopes: dict[str, PgScope] = {}
        self._joined: dict[Pid, list[tuple[str, str]]] = {}
        self._watching: dict[Pid, set[tuple[str, str | None, str]]] = {}
        #: Set by the cluster layer: told of every local change.
        self.replicator: Replicator | None = None

    def scope(self, name: str) -> PgScope:
        """The scope ``name`` (created on first use)."""
        s = self._scopes.get(name)
        if s is None:
            if not isinstance(name, str) or not name:
                raise Error("a pg scope name must be a non-empty string",
                            kind=ErrorKind.INVALID, retryable=False)
            s = self._scopes[name] = PgScope(self, name)
        return s

    def exited(self, pid: Pid) -> None:
        """``pid`` (local) exited: it leaves its groups and its monitors end."""
        joined = self._joined.pop(pid, None)
        if joined:
            for scope, group in joined:
                s = self._scopes[scope]
                s._drop(s._local, group, pid)
                s._drop(s._members, group, pid)
                s._changed(LEFT, group, [pid], local=True)
        watching = self._watching.pop(pid, None)
        if watching:
            for scope, group_, topic in watching:
                self._scopes[scope].demonitor(pid, group_, topic)

    def local_snapshot(self) -> list[tuple[str, str, list[Pid]]]:
        """This node's memberships, for a peer that just joined: (scope, group, pids)."""
        return [(s.name, g, list(m)) for s in self._scopes.values() for g, m in s._local.items()]

    def drop_node(self, node_name: str) -> None:
        """Members on ``node_name`` (down) leave every group, with monitor events."""
        for s in self._scopes.values():
            for group, members in list(s._members.items()):
                gone = [p for p in members if p.node == node_name]
                if gone:
                    s.apply(LEFT, group, gone)

    def __len__(self) -> int:
        return len(self._scopes)
