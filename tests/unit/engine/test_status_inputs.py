"""Values of marked lines as the status views read them from Git."""

from __future__ import annotations

import pytest

from image_automation.engine.status_inputs import GitValue, marked_values
from image_automation.git import MarkedLine


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'image: r.test/app:1.0 # {"$imagepolicy": "apps:web"}',
            [("apps/web", "", "r.test/app:1.0")],
        ),
        ('  tag: "1.0" # {"$imagepolicy": "apps:web:tag"}', [("apps/web", "tag", "1.0")]),
        (
            '- \'r.test/app:1.0\' #{"$imagepolicy": "apps:web"}',
            [("apps/web", "", "r.test/app:1.0")],
        ),
        ('- image: r.test/app:2 ## {"$imagepolicy": "a:b"}', [("a/b", "", "r.test/app:2")]),
        ('image: # {"$imagepolicy": "apps:web"}', []),
        ('# {"$imagepolicy": "apps:web"}', []),
        ('image: x # {"$imagepolicy": "bad"}', []),
        ('image: x # {"$imagepolicy": "a:b"} {"$imagepolicy": "c:d"}', []),
        ('note: "$imagepolicy is a word"', []),
        ('image: <script>:1 # {"$imagepolicy": "<ns>:<p>"}', [("<ns>/<p>", "", "<script>:1")]),
    ],
)
def test_marked_values(text: str, expected: list[tuple[str, str, str]]) -> None:
    got = marked_values(MarkedLine("a.yaml", text, 3))
    assert [(v.policy, v.field, v.value) for v in got] == expected
    assert all(v == GitValue(v.policy, v.field, v.value, "a.yaml", 3) for v in got)
