"""virt-platform-autopilot: keeps an OpenShift Virtualization cluster in its Golden State."""

__version__ = "0.1.0"

FIELD_MANAGER = "virt-platform-autopilot"
MANAGED_BY_LABEL = "platform.kubevirt.io/managed-by"
MANAGED_BY_VALUE = "virt-platform-autopilot"
