"""CareOn end to end: the whole suite on real processes (scripts/test e2e)."""
