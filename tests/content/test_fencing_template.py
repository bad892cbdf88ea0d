"""The NodeHealthCheck names the FenceAgentsRemediationTemplate that exists.

The reference operator's users were told to create
``fenceagentsremediationtemplate-default``; this project's first releases named
``fence-agents-remediation-template``. Whichever exists is named (the reference's when
both do); with neither (or offline), the reference's. Server-side apply must never
point a working health check at a template that does not exist.
"""

from __future__ import annotations

from typing import Any

import pytest

from autopilot.golden.catalog import GoldenState
from tests.support.rendering import context, make_hco, one, snapshot

NHC = "node-remediation-nodehealthcheck"
FAR = "fence-agents-remediation.medik8s.io/v1alpha1"
NAMESPACE = "openshift-workload-availability"
REFERENCE = "fenceagentsremediationtemplate-default"
EARLIER = "fence-agents-remediation-template"


def template(name: str, namespace: str = NAMESPACE) -> dict[str, Any]:
    return {"apiVersion": FAR, "kind": "FenceAgentsRemediationTemplate",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"template": {"spec": {"agent": "fence_ipmilan"}}}}


@pytest.mark.parametrize(("existing", "named"), [
    ((), REFERENCE),
    ((REFERENCE,), REFERENCE),
    ((EARLIER,), EARLIER),
    ((REFERENCE, EARLIER), REFERENCE),
    (("someone-elses",), REFERENCE),
])
def test_the_existing_template_is_named(
    golden: GoldenState, existing: tuple[str, ...], named: str
) -> None:
    hco = make_hco({"platform.kubevirt.io/enable-node-remediation": "true"})
    lookups = snapshot(*(template(name) for name in existing))
    nhc = one(golden, NHC, context(hco), lookups=lookups)
    assert nhc["spec"]["remediationTemplate"] == {
        "apiVersion": FAR, "kind": "FenceAgentsRemediationTemplate",
        "name": named, "namespace": NAMESPACE}


def test_a_template_in_another_namespace_does_not_count(golden: GoldenState) -> None:
    hco = make_hco({"platform.kubevirt.io/enable-node-remediation": "true"})
    nhc = one(golden, NHC, context(hco), lookups=snapshot(template(EARLIER, "default")))
    assert nhc["spec"]["remediationTemplate"]["name"] == REFERENCE
