"""A process's mailbox: where an arriving message goes, written once for every backend.

Both :class:`~beamish.actors.Context` backends — the kernel's :class:`Process` and the
workflow context of ``beamish.durable`` — route messages by the same rules (Wippy's):

* a message goes to the channel listening on its topic (:meth:`Mailbox.listen`);
* else to the inbox, once the process has asked for it (:meth:`Mailbox.inbox`);
* else it waits in the *backlog*, in arrival order, until something subscribes: the
  first ``listen(topic)`` takes that topic's messages, the first ``inbox()`` the rest.
* events (EXIT, LINK_DOWN, CANCEL) go to the events channel, made on first use.
* topics starting with ``@`` belong to the runtime (:func:`check_topic`).

What differs is only the channel: a trio :class:`~beamish.actors.Channel` in the
kernel, a deterministic asyncio channel inside a workflow. A backend says which by
implementing :meth:`Mailbox._new_channel`, and may add its own bookkeeping through two
hooks that are off the hot path (:meth:`_before_listen`, :meth:`_released`).

The kernel keeps a quota of queued items per process (``Process._room``). That count is
kept by the kernel at its delivery sites, not here, so a message costs the kernel no
extra frame: :meth:`_deliver` is pure routing. For the same reason the core keeps
``_direct``, the one channel every message goes to while the process listens to no
topic (its inbox): the kernel's send path reads that field and puts, without a call.

Invariants: every channel in ``_topics`` is open (``unlisten`` closes and removes it);
``_direct is _inbox`` while ``_topics`` is empty, else ``None``; ``_backlog`` holds only
messages that arrived while neither the inbox nor a channel for their topic existed,
oldest first; the fields are ``None`` until first needed, so an idle process pays for
none of them.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from ._channel import ChannelLike
from ._errors import Error, ErrorKind
from ._message import Event, Message

__all__ = ["Mailbox", "check_topic"]


def check_topic(topic: object) -> None:
    """Raise ``Error(INVALID)`` unless ``topic`` is a non-empty string not starting with
    ``@`` (the ``@`` topics are the runtime's own)."""
    if not isinstance(topic, str) or not topic:
        raise Error("topic must be a non-empty string", kind=ErrorKind.INVALID, retryable=False)
    if topic[0] == "@":
        raise Error(
            f"topic {topic!r} is reserved: topics starting with '@' belong to the runtime",
            kind=ErrorKind.INVALID,
            retryable=False,
        )


class Mailbox:
    """Routing of messages and events into a process's channels (see the module doc).

    A mixin: the backend's ``__init__`` sets the five fields to ``None``. The public
    methods are the mailbox half of :class:`~beamish.actors.Context`.
    """

    __slots__ = ("_backlog", "_direct", "_events", "_inbox", "_topics")

    _direct: Any
    _inbox: Any
    _events: Any
    _topics: dict[str, Any] | None
    _backlog: deque[Message] | None

    # -- what a backend provides ------------------------------------------------------

    def _new_channel(self, name: str) -> Any:
        """A new, open channel called ``name`` for this mailbox."""
        raise NotImplementedError

    def _before_listen(self, topic: str, listening: int) -> None:
        """Called before a new topic channel is made (``listening`` topics so far);
        raise to refuse it. Default: accept."""

    def _released(self, ch: Any) -> None:
        """Called when ``unlisten`` detaches ``ch`` (still holding what it holds), just
        before it is closed. Default: nothing."""

    # -- delivery (called by the backend's node or workflow) --------------------------

    def _deliver(self, msg: Message) -> None:
        """Route ``msg`` to its topic's channel, the inbox, or the backlog. Never refuses."""
        ch = self._direct
        if ch is not None:
            ch.put_nowait(msg)
            return
        topics = self._topics
        if topics is not None:
            ch = topics.get(msg.topic)
            if ch is not None:
                ch.put_nowait(msg)
                return
        ch = self._inbox
        if ch is not None:
            ch.put_nowait(msg)
            return
        backlog = self._backlog
        if backlog is None:
            backlog = self._backlog = deque()
        backlog.append(msg)

    def _deliver_event(self, event: Event) -> None:
        """Queue ``event`` on the events channel."""
        self.events().put_nowait(event)

    def _take_backlog(self, topic: str | None) -> list[Message]:
        """Remove and return the backlog's messages for ``topic`` (all, when None), in
        arrival order."""
        backlog = self._backlog
        if not backlog:
            return []
        if topic is None:
            taken = list(backlog)
            backlog.clear()
            return taken
        taken = [m for m in backlog if m.topic == topic]
        if taken:
            self._backlog = deque(m for m in backlog if m.topic != topic)
        return taken

    # -- subscription (called by the body) --------------------------------------------

    def inbox(self) -> ChannelLike:
        """The inbox: every message whose topic no channel listens to.

        Made on the first call; the messages that were waiting in the backlog move into
        it then, in arrival order. The same channel on every later call.
        """
        ch = self._inbox
        if ch is None:
            ch = self._inbox = self._new_channel("inbox")
            for msg in self._take_backlog(None):
                ch.put_nowait(msg)
            if not self._topics:
                self._direct = ch
        return ch  # type: ignore[no-any-return]

    def events(self) -> ChannelLike:
        """The events channel: EXIT, LINK_DOWN and CANCEL :class:`Event` values.

        Events are never kept in the backlog: the channel exists from the first event
        (or the first call), so none is lost.
        """
        ch = self._events
        if ch is None:
            ch = self._events = self._new_channel("events")
        return ch  # type: ignore[no-any-return]

    def listen(self, topic: str) -> ChannelLike:
        """The channel of messages on ``topic``; the same channel for the same topic.

        Messages on ``topic`` that were waiting in the backlog move into it, in order.
        Raises ``Error(INVALID)`` for an empty or ``@`` topic, and whatever the backend's
        limit on listened topics raises.
        """
        check_topic(topic)
        topics = self._topics
        if topics is None:
            topics = self._topics = {}
        ch = topics.get(topic)
        if ch is None:
            self._before_listen(topic, len(topics))
            ch = topics[topic] = self._new_channel(topic)
            self._direct = None
            for msg in self._take_backlog(topic):
                ch.put_nowait(msg)
        return ch  # type: ignore[no-any-return]

    def unlisten(self, topic_or_channel: str | ChannelLike) -> None:
        """Stop listening: close the topic's channel (by topic or by the channel itself).

        Later messages on that topic go to the inbox or the backlog. What the closed
        channel still holds stays receivable from it. Unknown topics are ignored.
        """
        topics = self._topics
        if not topics:
            return
        if isinstance(topic_or_channel, str):
            ch = topics.pop(topic_or_channel, None)
        else:
            ch = None
            for topic, c in topics.items():
                if c is topic_or_channel:
                    ch = topics.pop(topic)
                    break
        if ch is not None:
            if not topics:
                self._direct = self._inbox
            self._released(ch)
            ch.close()
