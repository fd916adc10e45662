"""The examples in docs/templates.md run and show what they claim."""

import doctest
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "templates.md"


def test_templates_doc_examples_run() -> None:
    result = doctest.testfile(
        str(DOC), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert result.attempted >= 9
    assert result.failed == 0
