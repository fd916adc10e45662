"""Helm charts and Go-templated files in a fleet repository are not policy files.

Flux's controllers never read them as files: a chart is rendered by helm-controller from its
directory, and a templated manifest only becomes YAML once rendered. Reporting their ``{{ }}``
as YAML errors would bury a repository's real problems, so both are skipped without a word:

* every file under a directory that holds ``Chart.yaml`` (the chart's templates, values and
  the ``Chart.yaml`` itself);
* a file that is not valid YAML but is once each ``{{ … }}`` is blanked out (a template
  written outside a chart). A file whose YAML error the braces do not explain is reported.
"""

from __future__ import annotations

import re
from pathlib import Path

from image_automation.config.safe_yaml import compose_all
from image_automation.errors import ConfigError

CHART_FILE = "Chart.yaml"
_ACTION = re.compile(r"\{\{.*?\}\}")


def is_template(text: str) -> bool:
    """True when ``text`` fails as YAML only because of its ``{{ … }}`` actions."""
    if "{{" not in text:
        return False
    # `#` turns each action into a comment (or, glued to a word, into part of a plain
    # scalar), which keeps the indentation and lines of everything around it.
    blanked = _ACTION.sub(lambda m: "#" + " " * (len(m.group()) - 1), text)
    try:
        compose_all(blanked, file="")
    except ConfigError:
        return False
    return True


class ChartDirectories:
    """Answers "is this path inside a Helm chart?" for paths relative to ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._known: dict[str, bool] = {}

    def holds(self, rel: str) -> bool:
        """True when ``rel`` lies under a directory (``root`` included) with a Chart.yaml."""
        parts = rel.split("/")[:-1]
        return any(self._is_chart("/".join(parts[:end])) for end in range(len(parts) + 1))

    def _is_chart(self, directory: str) -> bool:
        known = self._known.get(directory)
        if known is None:
            known = self._known[directory] = (self.root / directory / CHART_FILE).is_file()
        return known


__all__ = ["CHART_FILE", "ChartDirectories", "is_template"]
