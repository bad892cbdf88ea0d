"""What one API request addresses: resource type, version, namespace, name, verb."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kubesim.rbac import Identity
from kubesim.types import ResourceType

_TRUE = ("1", "t", "T", "true", "TRUE", "True")


def truthy(value: str | None) -> bool:
    """A boolean query parameter as Go's ParseBool reads it."""
    return value in _TRUE


@dataclass
class ApiRequest:
    """A parsed resource request (after authentication)."""

    rtype: ResourceType
    version: str
    namespace: str
    name: str
    subresource: str
    verb: str
    query: Mapping[str, str] = field(default_factory=dict)
    user: str = ""
    user_agent: str = ""
    groups: tuple[str, ...] = ()
    # Set once the validating webhooks admitted this write (see sim.webhooks).
    webhooks_reviewed: bool = False
    # One object of a deletecollection: webhooks see the collection's (empty) name.
    in_collection: bool = False

    @property
    def identity(self) -> Identity:
        """Who sends the request (user and groups)."""
        return Identity(self.user, self.groups)

    @property
    def dry_run(self) -> bool:
        """``dryRun=All``."""
        return self.query.get("dryRun") == "All"

    @property
    def api_version(self) -> str:
        """apiVersion of the requested version."""
        return self.rtype.api_version(self.version)

    def manager(self) -> str:
        """The field manager: the query parameter, else the User-Agent's product."""
        given = self.query.get("fieldManager")
        if given:
            return given
        return self.user_agent.split("/", 1)[0][:128] or "unknown"
