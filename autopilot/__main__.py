"""Allow ``python -m autopilot``."""

from autopilot.cli import main

raise SystemExit(main())
