"""The engine: the only layer that composes adapters (scan, reconcile, promote)."""
