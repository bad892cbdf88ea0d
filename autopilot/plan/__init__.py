"""What ``autopilot plan`` computes: changes by server-side dry run, and their blast radius."""
