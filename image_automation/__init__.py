"""image-automation: keep container image references in Git up to date.

scan registries -> select by policy -> edit marked values -> commit, push or open a PR.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("image-automation")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["__version__"]
