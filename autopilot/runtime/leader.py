"""Leader election on a coordination.k8s.io/v1 Lease, the way client-go does it.

- acquire when the Lease is free, released (no holder) or expired (the record and
  its expiry are :mod:`autopilot.runtime.lease`'s ``LeaseRecord``);
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

from autopilot.kube.client import ApiError, KubeClient
from autopilot.runtime.lease import LEASE_NAME, LeaseRecord

if TYPE_CHECKING:
    from autopilot.observability.metrics import Metrics

log = structlog.get_logger("autopilot.leader")

_ERRORS = (ApiError, ConnectionError, TimeoutError, OSError)


def default_identity() -> str:
    """Pod name (or host name) plus a random suffix, unique per process."""
    base = os.environ.get("POD_NAME") or socket.gethostname() or "autopilot"
    return f"{base}_{secrets.token_hex(4)}"


StateCallback = Callable[[bool], Awaitable[None] | None]


class Leadership:
    """Whether this replica leads, and who hears of a change: the gauge, the log and
    the ``on_change`` callback (the runtime starts and stops its workers there)."""

    def __init__(self, *, identity: str, lease: str, metrics: Metrics | None,
                 on_change: StateCallback | None) -> None:
        self.identity = identity
        self.lease = lease
        self.metrics = metrics
        self.on_change = on_change
        self.leading = False
        self._event = asyncio.Event()
        self._set_gauge(False)

    async def wait(self, timeout: float | None) -> bool:
        """Wait until we lead; False on timeout."""
        try:
            async with asyncio.timeout(timeout):
                await self._event.wait()
        except TimeoutError:
            return False
        return True

    def _set_gauge(self, leading: bool) -> None:
        if self.metrics is not None:
            self.metrics.set_leader(leading)

    async def change(self, leading: bool, *, released: bool = False) -> None:
        """Record a change (a repeat of the current state is no change)."""
        if leading == self.leading:
            return
        self.leading = leading
        if leading:
            self._event.set()
            log.info("became leader", identity=self.identity, lease=self.lease)
        else:
            self._event.clear()
            if released:
                log.info("stopped leading", identity=self.identity, lease=self.lease)
            else:
                log.warning("lost leadership", identity=self.identity, lease=self.lease)
        self._set_gauge(leading)
        if self.on_change is not None:
            try:
                result = self.on_change(leading)
                if result is not None:
                    await result
            except Exception as exc:
                log.error("leadership callback failed", error=f"{type(exc).__name__}: {exc}")


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
        self.record = LeaseRecord(
            namespace=namespace, name=name, identity=self.identity,
            lease_duration=lease_duration, clock=clock, publish=dict(publish or {}),
        )
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.leadership = Leadership(identity=self.identity, lease=name, metrics=metrics,
                                     on_change=on_change)
        self.release_on_cancel = release_on_cancel
        self.clock = clock
        self.last_renew = 0.0
        # Called on every attempt; the runtime turns it into a health heartbeat.
        self.beat: Callable[[], None] | None = None

    # -- observation ----------------------------------------------------------------------

    @property
    def is_leader(self) -> bool:
        """Whether we currently hold the Lease."""
        return self.leadership.leading

    @property
    def on_change(self) -> StateCallback | None:
        """Called with True on winning the Lease and False on losing or releasing it."""
        return self.leadership.on_change

    @on_change.setter
    def on_change(self, callback: StateCallback | None) -> None:
        self.leadership.on_change = callback

    async def wait_leading(self, timeout: float | None = None) -> bool:
        """Wait until we lead; False on timeout."""
        return await self.leadership.wait(timeout)

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
            if self.is_leader and self.release_on_cancel:
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
                    await self.leadership.change(False)
                    return
                if await self._try(min(left, self.retry_period)):
                    break
                if not self.is_leader:
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
        record = self.record
        try:
            lease = await self.client.request("GET", record.path, timeout=timeout)
        except ApiError as exc:
            if exc.status != 404:
                raise
            lease = None
        if lease is None:
            written = await self.client.request(
                "POST", record.collection, body=record.new_lease(), timeout=timeout
            )
        else:
            record.observe(lease)
            if record.held_by_another(lease):
                if self.is_leader:
                    await self.leadership.change(False)
                return False
            written = await self.client.request(
                "PUT", record.path, body=record.claim(lease), timeout=timeout
            )
        record.observe(written)
        await self._won()
        return True

    def holder_annotations(self) -> tuple[str, dict[str, str]] | None:
        """The holder's identity and the Lease's annotations, as last observed; None when
        no one holds an unexpired Lease."""
        return self.record.holder_annotations()

    async def _won(self) -> None:
        self.last_renew = self.clock()
        await self.leadership.change(True)

    # -- release ------------------------------------------------------------------------

    async def release(self, *, timeout: float = 2.0) -> bool:
        """Give the Lease up (client-go ReleaseOnCancel): no holder, 1 s duration."""
        if not self.is_leader or self.record.lease is None:
            return False
        try:
            async with asyncio.timeout(timeout):
                try:
                    released = await self._write_release(self.record.lease, timeout)
                except ApiError as exc:
                    if exc.status != 409:
                        raise
                    # A renewal cancelled in flight may have landed after all: our copy
                    # is one version behind. Release what the server holds, if still ours.
                    current = await self.client.request("GET", self.record.path,
                                                        timeout=timeout)
                    released = await self._write_release(current, timeout)
        except _ERRORS as exc:
            log.warning("could not release the lease", lease=self.name, error=_describe(exc))
            await self.leadership.change(False)
            return False
        if not released:
            await self.leadership.change(False)
            return False
        log.info("released the lease", lease=self.name, identity=self.identity)
        await self.leadership.change(False, released=True)
        return True

    async def _write_release(self, lease: dict[str, Any], timeout: float) -> bool:
        """PUT ``lease`` released (at its resourceVersion); False when not ours to release."""
        body = self.record.released(lease)
        if body is None:
            return False
        await self.client.request("PUT", self.record.path, body=body, timeout=timeout)
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
