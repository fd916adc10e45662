"""The examples in docs/selection.md run and show what they claim."""

import doctest
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "selection.md"


def test_selection_doc_examples_run() -> None:
    result = doctest.testfile(
        str(DOC), module_relative=False, optionflags=doctest.ELLIPSIS, verbose=False
    )
    assert result.attempted > 20
    assert result.failed == 0
