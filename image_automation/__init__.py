"""image-automation: keep container image references in Git up to date.

scan registries -> select by policy -> edit marked values -> commit, push or open a PR.

This module stays light: every command imports it, so it imports nothing. The version is a
literal (kept equal to pyproject.toml's by a test) rather than read through
``importlib.metadata``, which alone costs more start-up than the rest of ``--version``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
