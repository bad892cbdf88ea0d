"""Benchmarks of the controller against the targets of the design notes (``python -m bench``)."""
