"""Leader election on a coordination.k8s.io/v1 Lease, the way client-go does it.

- acquire when the Lease is free, released (no holder) or expired; "expired"
  is judged by when *we* last saw the record change, not by the holder's
  clock, so clock skew between nodes does not matter;
- renew every ``retry_period``; each renew call is bounded, and when no renew
  succeeded for ``renew_deadline`` we step down (the other replica may take
  over ``lease_duration`` after our last renewal);
- writes use the Lease's resourceVersion: a 409 means someone else wrote first;
- after losing, campaign again; on shutdown release the Lease (no holder,
  duration 1 s) so a standby takes over at once.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import structlog

from autopilot.kube.client import ApiError, KubeClient, micro_time
from autopilot.kube.resources import ResourceInfo

if TYPE_CHECKING:
    from autopilot.observability.metrics import Metrics

log = structlog.get_logger("autopilot.leader")

LEASE_NAME = "virt-platform-autopilot.kubevirt.io"
LEASES = ResourceInfo("coordination.k8s.io", "v1", "Lease", "leases", True)
_ERRORS = (ApiError, ConnectionError, TimeoutError, OSError)


def default_identity() -> str:
    """Pod name (or host name) plus a random suffix, unique per process."""
    base = os.environ.get("POD_NAME") or socket.gethostname() or "autopilot"
    return f"{base}_{secrets.token_hex(4)}"


StateCallback = Callable[[bool], Awaitable[None] | None]


class LeaderElector:
    """Campaigns for, holds, and releases the Lease. Run with ``await elector.run()``."""

    def __init__(
        self,
        client: KubeClient,
        *,
        namespace: str,
        name: str = LEASE_NAME,
        identity: str | None = None,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        metrics: Metrics | None = None,
        on_change: StateCallback | None = None,
        release_on_cancel: bool = True,
        clock: Callable[[], float] = time.monotonic,
        publish: Mapping[str, str] | None = None,
    ) -> None:
        if not lease_duration > renew_deadline > retry_period > 0:
            raise ValueError("need lease_duration > renew_deadline > retry_period > 0")
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.metrics = metrics
        self.on_change = on_change
        self.release_on_cancel = release_on_cancel
        self.clock = clock
        # Annotations the holder writes on the Lease (what standbys need to know of it).
        self.publish = dict(publish or {})
        self._leading = False
        self._leading_event = asyncio.Event()
        self._observed_spec: dict[str, Any] | None = None
        self._observed_at = 0.0
        self._lease: dict[str, Any] | None = None
        self.last_renew = 0.0
        self.transitions = 0
        # Called on every attempt; the runtime turns it into a health heartbeat.
        self.beat: Callable[[], None] | None = None
        self._set_gauge(False)

    # -- observation ----------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        """Whether we currently hold the Lease."""
        return self._leading

    async def wait_leading(self, timeout: float | None = None) -> bool:
        """Wait until we lead; False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                await self._leading_event.wait()
        except TimeoutError:
            return False
        return True

    def _set_gauge(self, leading: bool) -> None:
        if self.metrics is not None:
            self.metrics.leader_status.set(1 if leading else 0)

    async def _set_leading(self, leading: bool, *, released: bool = False) -> None:
        if leading == self._leading:
            return
        self._leading = leading
        if leading:
            self._leading_event.set()
            log.info("became leader", identity=self.identity, lease=self.name)
        else:
            self._leading_event.clear()
            if released:
                log.info("stopped leading", identity=self.identity, lease=self.name)
            else:
                log.warning("lost leadership", identity=self.identity, lease=self.name)
        self._set_gauge(leading)
        if self.on_change is not None:
            try:
                result = self.on_change(leading)
                if result is not None:
                    await result
            except Exception as exc:
                log.error("leadership callback failed", error=f"{type(exc).__name__}: {exc}")

    # -- loop ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Campaign, lead, and campaign again after losing, until cancelled.

        On cancellation the Lease is released when we hold it.
        """
        try:
            while True:
                await self._campaign()
                await self._renew_loop()
        finally:
            if self._leading and self.release_on_cancel:
                await asyncio.shield(self._release_quietly())

    def _jitter(self) -> float:
        return self.retry_period * random.uniform(0.0, 0.2)

    async def _campaign(self) -> None:
        while True:
            if await self._try(self.retry_period):
                return
            await asyncio.sleep(self.retry_period + self._jitter())

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.retry_period)
            # Keep trying until the renew deadline since the last good renewal.
            while True:
                left = self.renew_deadline - (self.clock() - self.last_renew)
                if left <= 0:
                    await self._set_leading(False)
                    return
                if await self._try(min(left, self.retry_period)):
                    break
                if not self._leading:
                    return  # someone else holds it now
                left = self.renew_deadline - (self.clock() - self.last_renew)
                await asyncio.sleep(max(0.0, min(self.retry_period / 2, left)))

    async def _try(self, timeout: float) -> bool:
        """One acquire-or-renew attempt, bounded by ``timeout``."""
        if self.beat is not None:
            self.beat()
        try:
            # asyncio.timeout: wait_for (3.11) can swallow a cancellation arriving as the
            # call completes, and the campaign would go on after the elector was stopped.
            async with asyncio.timeout(timeout):
                return await self._try_acquire_or_renew(timeout)
        except _ERRORS as exc:
            if isinstance(exc, ApiError) and exc.status == 409:
                log.debug("lease update conflict; retrying", lease=self.name)
            else:
                log.info("lease attempt failed", lease=self.name, error=_describe(exc))
            return False

    async def _try_acquire_or_renew(self, timeout: float) -> bool:
        now_wall = micro_time()
        path = LEASES.path(namespace=self.namespace, name=self.name)
        try:
            lease = await self.client.request("GET", path, timeout=timeout)
        except ApiError as exc:
            if exc.status != 404:
                raise
            lease = None
        if lease is None:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec(now_wall, acquire=now_wall, transitions=0),
            }
            self._stamp(body)
            created = await self.client.request(
                "POST", LEASES.path(namespace=self.namespace), body=body, timeout=timeout
            )
            self._observe(created)
            await self._won()
            return True

        spec = lease.get("spec") or {}
        self._observe(lease)
        holder = str(spec.get("holderIdentity") or "")
        if holder and holder != self.identity:
            expired = self._observed_at + float(spec.get("leaseDurationSeconds") or 0) < (
                self.clock()
            )
            if not expired:
                if self._leading:
                    await self._set_leading(False)
                return False
        transitions = int(spec.get("leaseTransitions") or 0)
        if holder == self.identity:
            acquire = str(spec.get("acquireTime") or now_wall)
        else:
            acquire = now_wall
            transitions += 1
        lease["spec"] = self._spec(now_wall, acquire=acquire, transitions=transitions)
        self._stamp(lease)
        updated = await self.client.request("PUT", path, body=lease, timeout=timeout)
        self._observe(updated)
        await self._won()
        return True

    def _spec(self, now: str, *, acquire: str, transitions: int) -> dict[str, Any]:
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": max(1, round(self.lease_duration)),
            "acquireTime": acquire,
            "renewTime": now,
            "leaseTransitions": transitions,
        }

    def _stamp(self, lease: dict[str, Any]) -> None:
        if self.publish:
            meta = lease.setdefault("metadata", {})
            meta["annotations"] = {**(meta.get("annotations") or {}), **self.publish}

    def holder_annotations(self) -> tuple[str, dict[str, str]] | None:
        """The holder's identity and the Lease's annotations, as last observed; None when
        no one holds an unexpired Lease."""
        if self._lease is None:
            return None
        spec = self._lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        duration = float(spec.get("leaseDurationSeconds") or 0)
        if not holder or self._observed_at + duration < self.clock():
            return None
        annotations = (self._lease.get("metadata") or {}).get("annotations") or {}
        return holder, {str(k): str(v) for k, v in annotations.items()}

    def _observe(self, lease: dict[str, Any]) -> None:
        spec = lease.get("spec") or {}
        if spec != self._observed_spec:
            self._observed_spec = dict(spec)
            self._observed_at = self.clock()
        self._lease = lease

    async def _won(self) -> None:
        self.last_renew = self.clock()
        await self._set_leading(True)

    # -- release ------------------------------------------------------------------------

    async def release(self, *, timeout: float = 2.0) -> bool:
        """Give the Lease up (client-go ReleaseOnCancel): no holder, 1 s duration."""
        if not self._leading or self._lease is None:
            return False
        path = LEASES.path(namespace=self.namespace, name=self.name)
        try:
            async with asyncio.timeout(timeout):
                try:
                    released = await self._write_release(path, self._lease, timeout)
                except ApiError as exc:
                    if exc.status != 409:
                        raise
                    # A renewal cancelled in flight may have landed after all: our copy
                    # is one version behind. Release what the server holds, if still ours.
                    current = await self.client.request("GET", path, timeout=timeout)
                    released = await self._write_release(path, current, timeout)
        except _ERRORS as exc:
            log.warning("could not release the lease", lease=self.name, error=_describe(exc))
            await self._set_leading(False)
            return False
        if not released:
            await self._set_leading(False)
            return False
        log.info("released the lease", lease=self.name, identity=self.identity)
        await self._set_leading(False, released=True)
        return True

    async def _write_release(self, path: str, lease: dict[str, Any], timeout: float) -> bool:
        """PUT ``lease`` released (at its resourceVersion); False when not ours to release."""
        spec = dict(lease.get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            return False
        now = micro_time()
        body = {**lease, "spec": {
            "leaseDurationSeconds": 1,
            "acquireTime": now,
            "renewTime": now,
            "leaseTransitions": int(spec.get("leaseTransitions") or 0),
        }}
        await self.client.request("PUT", path, body=body, timeout=timeout)
        return True

    async def _release_quietly(self) -> None:
        try:
            await self.release()
        except Exception as exc:  # shutdown must go on
            log.warning("lease release failed", error=_describe(exc))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApiError):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
