"""Manifests: find setter markers and splice new values into bytes (pure), walk trees."""
