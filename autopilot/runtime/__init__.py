"""Generic controller machinery: work queue, leader election, task supervisor, worker loop.

Nothing here knows the product: no golden state, no engine, no controller logic.
"""
