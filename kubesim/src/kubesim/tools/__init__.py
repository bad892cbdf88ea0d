"""Maintenance tools of kubesim (not needed at run time)."""
