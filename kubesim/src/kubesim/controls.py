"""Test controls of kubesim: faults, denials, watch sabotage, request counters and log.

Every method is safe to call from any thread (tests run in their own thread
while the server runs its loop in another). Actions on open watch streams are
handed to the server loop.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from kubesim.rbac import SUPERUSER_GROUP, Identity

# The request log keeps the latest requests only: enough for a benchmark's window.
REQUEST_LOG_SIZE = 20_000


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One API request as the server received it (what a real server's audit log says)."""

    at: float  # wall-clock seconds when the request arrived
    verb: str
    resource: str
    namespace: str
    name: str
    user_agent: str
    dry_run: bool
    # When the server finished answering it (a real server's audit log says; None here).
    served_at: float | None = None


@dataclass
class ErrorRule:
    """Answer matching requests with ``status`` (next ``count`` of them, or a share)."""

    status: int
    verb: str | None = None
    resource: str | None = None
    count: int | None = None
    rate: float = 1.0
    retry_after: float | None = None
    hang: bool = False
    message: str = ""
    reset: bool = False

    def applies(self, verb: str, resource: str) -> bool:
        """Whether the rule covers this verb/resource."""
        return (self.verb in (None, verb)) and (self.resource in (None, resource))


@dataclass(frozen=True)
class AdmissionDenial:
    """A validating webhook that refuses objects of one kind."""

    kind: str
    message: str
    webhook: str
    operations: tuple[str, ...]
    code: int


@dataclass(frozen=True)
class RbacDenial:
    """A missing permission: ``user`` may not ``verb`` ``resource``."""

    user: str
    verb: str
    resource: str
    group: str | None = None
    namespace: str | None = None


class Controls:
    """Knobs tests turn on a running :class:`~kubesim.KubeSim`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, Identity] = {}
        self._latency: list[tuple[str | None, str | None, float]] = []
        self._late_answers: list[tuple[str | None, str | None, float]] = []
        self._errors: list[ErrorRule] = []
        self._admission: dict[str, AdmissionDenial] = {}
        self._rbac: list[RbacDenial] = []
        self._counts: Counter[tuple[str, str, str, bool]] = Counter()
        self._log: deque[LoggedRequest] = deque(maxlen=REQUEST_LOG_SIZE)
        self._random = random.Random(0)
        self.bookmark_interval = 2.0
        # Set by the server: run a callable on its loop.
        self._call_in_loop: Callable[[Callable[[], None]], None] | None = None
        self._on_drop: Callable[[], None] | None = None
        self._on_silence: Callable[[bool, str | None], None] | None = None
        self._on_compact: Callable[[], None] | None = None
        self._on_window: Callable[[int], None] | None = None
        self._on_interval: Callable[[float], None] | None = None
        self.silence_new_watches = False
        # Streaming lists (watch-list): "on" (served), "refused" (422, as with the WatchList
        # gate off) or "ignored" (parameters dropped, as by a server that knows neither).
        self.streaming_lists = "on"
        # API groups discovery leaves out while their kinds are served all the same.
        self.hidden_groups: frozenset[str] = frozenset()

    def reset(self) -> None:
        """Lift every fault and denial, un-silence streams and zero the counters."""
        with self._lock:
            self._latency.clear()
            self._late_answers.clear()
            self._errors.clear()
            self._admission.clear()
            self._rbac.clear()
            self._counts.clear()
            self._log.clear()
        self.streaming_lists = "on"
        self.hidden_groups = frozenset()
        self.silence_watches(False)

    # -- identities -----------------------------------------------------------------------

    def add_token(self, token: str, user: str, *,
                  groups: tuple[str, ...] = (SUPERUSER_GROUP,)) -> None:
        """Accept ``token`` as ``user`` in ``groups``.

        The default group, ``system:masters``, bypasses RBAC; give other groups to have
        the identity authorised by the Roles and bindings stored in the server.
        """
        with self._lock:
            self._tokens[token] = Identity(user, (*groups, "system:authenticated"))

    def identity_for(self, token: str) -> Identity | None:
        """The identity a bearer token authenticates, or None."""
        with self._lock:
            return self._tokens.get(token)

    # -- latency and errors ---------------------------------------------------------------

    def set_latency(self, seconds: float, *, verb: str | None = None,
                    resource: str | None = None) -> None:
        """Delay matching requests by ``seconds`` (verb: get/list/watch/create/...)."""
        with self._lock:
            self._latency.append((verb, resource, seconds))

    def clear_latency(self) -> None:
        """Remove every latency rule."""
        with self._lock:
            self._latency.clear()

    def latency_for(self, verb: str, resource: str) -> float:
        """Total delay for one request."""
        with self._lock:
            return sum(s for v, r, s in self._latency
                       if v in (None, verb) and r in (None, resource))

    def delay_answers(self, seconds: float, *, verb: str | None = None,
                      resource: str | None = None) -> None:
        """Answer matching requests ``seconds`` late, after the server carried them out.

        Everyone else sees the write (reads, watch events) while its own client still
        waits for the answer, as when that client is slow to be scheduled.
        """
        with self._lock:
            self._late_answers.append((verb, resource, seconds))

    def answer_delay_for(self, verb: str, resource: str) -> float:
        """How late the answer to one request comes."""
        with self._lock:
            return sum(s for v, r, s in self._late_answers
                       if v in (None, verb) and r in (None, resource))

    def inject_errors(self, *, status: int = 500, verb: str | None = None,
                      resource: str | None = None, count: int | None = None,
                      rate: float = 1.0, retry_after: float | None = None, hang: bool = False,
                      message: str = "", reset: bool = False) -> None:
        """Fail matching requests: the next ``count`` (or all), each with probability ``rate``.

        ``status`` 500/503/429 answer a Status (429 and 503 with ``Retry-After`` when given);
        ``hang=True`` never answers (the client's timeout fires); ``reset=True`` closes the
        connection without an answer. Discovery requests have the resource ``""``.
        """
        with self._lock:
            self._errors.append(ErrorRule(status=status, verb=verb, resource=resource,
                                          count=count, rate=rate, retry_after=retry_after,
                                          hang=hang, message=message, reset=reset))

    def clear_errors(self) -> None:
        """Remove every error rule."""
        with self._lock:
            self._errors.clear()

    def take_error(self, verb: str, resource: str) -> ErrorRule | None:
        """The rule failing this request, if any (consumes one of a rule's ``count``)."""
        with self._lock:
            for rule in self._errors:
                if not rule.applies(verb, resource):
                    continue
                if rule.rate < 1.0 and self._random.random() >= rule.rate:
                    continue
                if rule.count is not None:
                    rule.count -= 1
                    if rule.count <= 0:
                        self._errors.remove(rule)
                return rule
            return None

    # -- admission and RBAC ---------------------------------------------------------------

    def deny_admission(self, kind: str, message: str = "denied by policy", *,
                       webhook: str = "deny.kubesim.test",
                       operations: tuple[str, ...] = ("CREATE", "UPDATE"),
                       code: int = 403) -> None:
        """A validating webhook ``webhook`` refuses ``kind`` objects with ``message``."""
        with self._lock:
            self._admission[kind] = AdmissionDenial(kind, message, webhook, operations, code)

    def clear_admission(self, kind: str | None = None) -> None:
        """Lift the denial of one kind, or all."""
        with self._lock:
            if kind is None:
                self._admission.clear()
            else:
                self._admission.pop(kind, None)

    def admission_denial(self, kind: str, operation: str) -> AdmissionDenial | None:
        """The denial applying to ``operation`` (CREATE/UPDATE/DELETE) of ``kind``."""
        with self._lock:
            d = self._admission.get(kind)
        return d if d is not None and operation in d.operations else None

    def deny_rbac(self, user: str, verb: str, resource: str, *, group: str | None = None,
                  namespace: str | None = None) -> None:
        """``user`` may no longer ``verb`` (``*`` for every verb) ``resource`` (plural).

        A shortcut over real RBAC (which only grants): it refuses even superusers.
        """
        with self._lock:
            self._rbac.append(RbacDenial(user, verb, resource, group, namespace))

    def clear_rbac(self) -> None:
        """Lift every RBAC denial."""
        with self._lock:
            self._rbac.clear()

    def rbac_denied(self, *, user: str, verb: str, resource: str, group: str,
                    namespace: str) -> bool:
        """Whether a denial covers this request."""
        with self._lock:
            rules = list(self._rbac)
        return any(
            r.user in (user, "*") and r.verb in (verb, "*") and r.resource in (resource, "*")
            and r.group in (None, group) and r.namespace in (None, namespace)
            for r in rules
        )

    # -- watch streams and history --------------------------------------------------------

    def drop_watches(self) -> None:
        """Close every open watch stream now (clients see the connection end)."""
        if self._call_in_loop and self._on_drop:
            self._call_in_loop(self._on_drop)

    def silence_watches(self, silent: bool = True, *, new_streams: bool = False,
                        resource: str | None = None) -> None:
        """Open streams stop sending anything (connection kept); ``new_streams`` too.

        ``resource`` (a plural): only that resource's open streams. What a silent stream
        held back is lost: drop the streams afterwards, and clients resume from where
        they were."""
        if resource is not None and new_streams:
            raise ValueError("new_streams silences every resource's streams")
        self.silence_new_watches = silent and new_streams
        if self._call_in_loop and self._on_silence:
            on_silence = self._on_silence
            self._call_in_loop(lambda: on_silence(silent, resource))

    def set_streaming_lists(self, mode: str) -> None:
        """How watches asking for their initial state (``sendInitialEvents``) are answered.

        ``on``: served, like a v1.36 server. ``refused``: 422 Invalid, like a server with
        the ``WatchList`` feature gate off. ``ignored``: ``sendInitialEvents`` and
        ``resourceVersionMatch`` dropped, like a server that knows neither (older than
        1.19; from 1.19 to 1.26 a server refuses the second on a watch) or a proxy that
        strips them: a watch without a resourceVersion then streams the objects as
        synthetic ADDED events and never says where they end (v1.36 ends them with the
        annotated bookmark).
        """
        if mode not in ("on", "refused", "ignored"):
            raise ValueError(f"streaming lists: {mode!r} is not on, refused or ignored")
        self.streaming_lists = mode

    def hide_from_discovery(self, *groups: str) -> None:
        """Leave ``groups`` out of the ``/apis`` discovery lists (none: show every group
        again), their kinds still served: as a real server's discovery, which follows a
        CRD's Established condition asynchronously, lists a new kind a moment after."""
        self.hidden_groups = frozenset(groups)

    def compact(self) -> None:
        """Forget the change history: watches from any older resourceVersion get 410."""
        if self._call_in_loop and self._on_compact:
            self._call_in_loop(self._on_compact)

    def set_compaction_window(self, events: int) -> None:
        """Keep only the last ``events`` changes for watch replays."""
        if self._call_in_loop and self._on_window:
            on_window = self._on_window
            self._call_in_loop(lambda: on_window(events))

    def set_compaction_interval(self, seconds: float) -> None:
        """Compact the history every ``seconds`` (to the version noted one interval before).

        A real server does this to etcd every ``--etcd-compaction-interval`` (5 minutes
        by default, and kubesim's default too).
        """
        if self._call_in_loop and self._on_interval:
            on_interval = self._on_interval
            self._call_in_loop(lambda: on_interval(seconds))

    # -- counters -------------------------------------------------------------------------

    def record(self, *, verb: str, resource: str, user_agent: str, dry_run: bool,
               namespace: str = "", name: str = "") -> None:
        """Count one API request and log when it arrived."""
        entry = LoggedRequest(at=time.time(), verb=verb, resource=resource, namespace=namespace,
                              name=name, user_agent=user_agent, dry_run=dry_run)
        with self._lock:
            self._counts[(verb, resource, user_agent, dry_run)] += 1
            self._log.append(entry)

    def requests(self, user_agent: str | None = None) -> list[LoggedRequest]:
        """The latest requests (at most ``REQUEST_LOG_SIZE``) in arrival order, optionally of
        clients whose User-Agent starts with ``user_agent``."""
        with self._lock:
            entries = list(self._log)
        return [e for e in entries if user_agent is None or e.user_agent.startswith(user_agent)]

    def counts(self, verb: str | None = None, resource: str | None = None,
               user_agent: str | None = None, dry_run: bool | None = None) -> int:
        """Requests seen since the last reset matching every given filter.

        ``user_agent`` matches the product part (before ``/``) or a prefix of the header.
        """
        with self._lock:
            items = list(self._counts.items())
        total = 0
        for (v, r, ua, dry), n in items:
            if verb is not None and v != verb:
                continue
            if resource is not None and r != resource:
                continue
            if dry_run is not None and dry != dry_run:
                continue
            if user_agent is not None and not ua.startswith(user_agent):
                continue
            total += n
        return total

    def count_table(self, user_agent: str | None = None) -> Counter[tuple[str, str, bool]]:
        """Requests seen since the last reset by (verb, resource, dry run)."""
        with self._lock:
            items = list(self._counts.items())
        table: Counter[tuple[str, str, bool]] = Counter()
        for (verb, resource, ua, dry), n in items:
            if user_agent is None or ua.startswith(user_agent):
                table[(verb, resource, dry)] += n
        return table

    def reset_counts(self) -> None:
        """Forget every counted and logged request."""
        with self._lock:
            self._counts.clear()
            self._log.clear()
