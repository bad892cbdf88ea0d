"""Anti-thrashing: when to stop correcting drift that another writer keeps undoing.

- :mod:`~autopilot.antithrash.flips` reads ``managedFields`` to say who took
  the fields we set (pure);
- :mod:`~autopilot.antithrash.budget` keeps a per-object write budget (a token
  bucket from :mod:`autopilot.runtime.tokenbucket`, the project's one rate
  limiter, which the work queue shares);
- :mod:`~autopilot.antithrash.detector` counts owner flips and throttles and
  decides when an edit war warrants a pause (pure, in memory);
- :mod:`~autopilot.antithrash.pause` is the gate an object pass asks before it
  writes: it combines the three and writes the pause annotation.
"""
