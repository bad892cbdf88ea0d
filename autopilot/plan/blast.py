"""The blast radius of a plan: which pools roll and which nodes reboot.

For every MachineConfig and KubeletConfig the plan creates, updates or deletes:
the MachineConfigPools it reaches (:mod:`autopilot.plan.pools`) and what each of
their nodes does (:mod:`autopilot.plan.nodeaction`). A pool "rolls" when its nodes
do anything but ``none``: the Machine Config Operator drains and updates them one
after the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from autopilot.kube.client import ApiError, KubeClient
from autopilot.kube.discovery import RestMapper
from autopilot.kube.wellknown import NODES
from autopilot.plan import changes as ch
from autopilot.plan.nodeaction import NONE, REBOOT, action_for, worst
from autopilot.plan.pools import Pool, pools_of, pools_reached

MCO_API: Final = "machineconfiguration.openshift.io/v1"
NODE_KINDS: Final = ("MachineConfig", "KubeletConfig")


@dataclass(frozen=True)
class PoolRoll:
    """One pool that would roll: its nodes and what each does."""

    name: str
    nodes: tuple[str, ...]
    action: str
    because: tuple[str, ...]  # the objects that make it roll


@dataclass
class BlastRadius:
    """The pools that roll; a note when the cluster cannot tell (no pools served)."""

    pools: list[PoolRoll] = field(default_factory=list)
    note: str = ""

    @property
    def rebooting_nodes(self) -> list[str]:
        """Every node that reboots (a node in several rolling pools counts once)."""
        return sorted({n for p in self.pools if p.action == REBOOT for n in p.nodes})


async def blast_radius(client: KubeClient, mapper: RestMapper,
                       changes: list[ch.Change]) -> BlastRadius:
    """Fill in the node action and pools of each node-level change; the pools that roll."""
    node_changes = [c for c in changes
                    if c.action in ch.CHANGES and c.kind in NODE_KINDS
                    and c.api_version == MCO_API]
    if not node_changes:
        return BlastRadius()
    for change in node_changes:
        change.node_action = action_for(change.kind, change.before, change.after)
    pool_res = mapper.lookup(MCO_API, "MachineConfigPool")
    if pool_res is None:
        return BlastRadius(note="no MachineConfigPools served on this cluster: "
                                "which nodes are affected cannot be told")
    try:
        raw_pools, _ = await client.list(pool_res)
        nodes, _ = await client.list(NODES)
    except ApiError as exc:
        return BlastRadius(note=f"cannot read the pools and nodes: {exc.message}")
    pools = pools_of(raw_pools, nodes)
    return BlastRadius(pools=_rolls(node_changes, pools))


def _rolls(node_changes: list[ch.Change], pools: list[Pool]) -> list[PoolRoll]:
    actions: dict[str, list[str]] = {}
    because: dict[str, list[str]] = {}
    by_name = {p.name: p for p in pools}
    for change in node_changes:
        shape = change.after if change.after is not None else change.before
        reached = pools_reached(change.kind, shape or {}, pools)
        change.pools = [p.name for p in reached]
        for pool in reached:
            actions.setdefault(pool.name, []).append(change.node_action)
            if change.node_action != NONE:
                because.setdefault(pool.name, []).append(change.title)
    rolls = []
    for name, acts in sorted(actions.items()):
        action = worst(acts)
        if action != NONE:
            rolls.append(PoolRoll(name=name, nodes=by_name[name].nodes, action=action,
                                  because=tuple(because.get(name, ()))))
    return rolls
