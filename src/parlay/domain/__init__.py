"""Domain core: pure scheduling and messaging rules (no I/O, no clock, no framework)."""
