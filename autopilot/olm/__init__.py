"""The OLM bundle of the controller: ClusterServiceVersion, bundle layout, bundle image."""
