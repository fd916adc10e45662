"""Pydantic models for policy files: Flux image.toolkit.fluxcd.io kinds and our native kind.

A leaf: imports nothing of ours but errors and domain, so any layer may use it.
"""
