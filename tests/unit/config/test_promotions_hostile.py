"""Hostile Promotion documents: huge, deep, aliased, malformed and injected values are refused
at their line, in a message of bounded length, and never at the other documents' cost."""

from __future__ import annotations

import pytest

from image_automation.config.loading import load_bytes
from image_automation.config.models import ImagePolicy, ImageRepository
from image_automation.config.promotions import Promotion
from tests.unit.config.test_loading import POLICY, REPO
from tests.unit.config.test_safe_yaml import laughs

KIND = "apiVersion: image-automation.io/v1alpha1\nkind: Promotion\n"
META = "metadata: {name: web, namespace: apps}\n"
HEAD = KIND + META + "spec:\n  policies: [web]\n"
TWO = "  stages:\n    - {name: dev, path: dev}\n    - {name: prod, path: prod}\n"


def _errors(text: str) -> list[str]:
    result = load_bytes(text.encode(), file="p.yaml")
    return [str(e) for e in result.errors]


@pytest.mark.parametrize(
    ("hostile", "message"),
    [
        (laughs(9, head=KIND + META), "f.yaml:18: too many aliases"),
        (KIND + META + "spec: &s {stages: *s}\n", "f.yaml:13: alias *s is inside the node"),
        (KIND + META + "spec: " + "[" * 100_000 + "]" * 100_000 + "\n", "f.yaml:13: nested more"),
        (
            KIND + META + "spec: " + "{a: " * 50_000 + "1" + "}" * 50_000 + "\n",
            "f.yaml:13: nested more",
        ),
    ],
    ids=["billion-laughs", "alias-cycle", "deep", "deep-mapping"],
)
def test_a_hostile_promotion_is_refused_and_the_others_load(hostile: str, message: str) -> None:
    text = f"{REPO}---\n{hostile}---\n{POLICY}"
    result = load_bytes(text.encode(), file="f.yaml")
    assert [str(e)[: len(message)] for e in result.errors] == [message], result.errors
    assert [type(d.obj) for d in result.documents] == [ImageRepository, ImagePolicy]


def test_anchors_and_aliases_within_bounds_are_read_as_their_values() -> None:
    text = HEAD + (
        "  stages:\n    - {name: dev, path: dev}\n"
        "    - name: staging\n      path: staging\n"
        "      windows: &office [{days: [Mon-Fri], start: '09:00', end: '16:00', timeZone: UTC}]\n"
        "    - {name: prod, path: prod, windows: *office}\n"
    )
    result = load_bytes(text.encode(), file="p.yaml")
    assert result.errors == []
    (doc,) = (d.obj for d in result.promotions)
    assert isinstance(doc, Promotion)
    assert doc.spec.stages[1].windows == doc.spec.stages[2].windows != ()


def _stage(extra: str) -> str:
    """``TWO`` with ``extra`` fields on its second stage."""
    return HEAD + TWO.replace("path: prod}", f"path: prod, {extra}}}")


HUGE = "x" * 1_000_000
HOSTILE = [
    # huge
    pytest.param(_stage("soak: " + "9" * 5_000 + "h"), "spec.stages[1].soak: ", id="huge-soak"),
    pytest.param(
        _stage("windows: [{cron: '0 9 * * *', duration: 99999999999d, timeZone: UTC}]"),
        "spec.stages[1].windows[0].duration: ",
        id="huge-window-duration",
    ),
    pytest.param(HEAD + TWO + "  interval: 1e400h\n", "spec.interval: ", id="huge-interval"),
    pytest.param(
        HEAD + TWO.replace("path: prod", f"path: {HUGE}"), "spec.stages[1].path: ", id="huge-path"
    ),
    pytest.param(
        HEAD.replace("[web]", f"['{HUGE}']") + TWO, "spec.policies[0]: ", id="huge-policy-name"
    ),
    pytest.param(
        HEAD + "  stages:\n" + "".join(f"    - {{name: s{i}, path: p{i}}}\n" for i in range(21)),
        "spec.stages: List should have at most 20 items",
        id="too-many-stages",
    ),
    pytest.param(
        _stage("gates: {checks: [" + ",".join(f"c{i}" for i in range(21)) + "]}"),
        "spec.stages[1].gates.checks: List should have at most 20 items",
        id="too-many-checks",
    ),
    pytest.param(
        HEAD + TWO + "  pullRequest: {labels: [" + ",".join(f"l{i}" for i in range(1000)) + "]}\n",
        "spec.pullRequest.labels: List should have at most 20 items",
        id="too-many-labels",
    ),
    pytest.param(
        HEAD + TWO + f"  pullRequest: {{branch: '{HUGE}'}}\n",
        "spec.pullRequest.branch: ",
        id="huge-branch-prefix",
    ),
    # malformed
    pytest.param(
        KIND + META + "spec: [1]\n", "spec: Input should be a valid dictionary", id="spec-list"
    ),
    pytest.param(
        HEAD + "  stages: dev\n", "spec.stages: Input should be a valid list", id="stages-str"
    ),
    pytest.param(
        HEAD + "  stages: [dev, prod]\n",
        "spec.stages[0]: Input should be a valid dictionary",
        id="stage-scalar",
    ),
    pytest.param(
        _stage("from: 5"), "spec.stages[1].from: Input should be a valid string", id="from-int"
    ),
    pytest.param(_stage("soak: -1h"), "spec.stages[1].soak: invalid duration", id="negative-soak"),
    pytest.param(
        _stage("windows: [{days: [Mon], start: '09:00', end: '10:00', timeZone: Mars/Base}]"),
        "unknown time zone 'Mars/Base'",
        id="unknown-zone",
    ),
    # injected
    pytest.param(
        KIND
        + 'metadata: {name: "web --> <b>x</b>", namespace: apps}\nspec:\n  policies: [web]\n'
        + TWO,
        "metadata.name: ",
        id="name-closes-the-footer-comment",
    ),
    pytest.param(
        KIND
        + 'metadata: {name: "web\\nINFO forged", namespace: apps}\nspec:\n  policies: [web]\n'
        + TWO,
        "metadata.name: ",
        id="name-newline",
    ),
    pytest.param(
        KIND + 'metadata: {name: web, namespace: "apps/../x"}\nspec:\n  policies: [web]\n' + TWO,
        "metadata.namespace: ",
        id="namespace-slash",
    ),
    pytest.param(
        HEAD + TWO.replace("name: prod", 'name: "pr\\nod"'),
        "spec.stages[1].name: ",
        id="stage-newline",
    ),
    pytest.param(
        HEAD + TWO.replace("name: prod", "name: ../x"), "spec.stages[1].name: ", id="stage-dots"
    ),
    pytest.param(
        HEAD.replace("[web]", '["we\\nb"]') + TWO, "spec.policies[0]: ", id="policy-newline"
    ),
    pytest.param(
        HEAD + TWO.replace("path: prod", "path: /etc"),
        "must be relative and stay inside",
        id="absolute-path",
    ),
    pytest.param(
        HEAD + TWO.replace("path: prod", "path: a/../../b"),
        "must be relative and stay inside",
        id="path-escapes",
    ),
    pytest.param(
        _stage(
            "windows: [{days: [Mon], start: '09:00', end: '10:00', timeZone: ../../etc/passwd}]"
        ),
        "unknown time zone",
        id="zone-traversal",
    ),
    pytest.param(
        HEAD + TWO + "  pullRequest: {branch: '-upload-pack=x'}\n",
        "must not start with '-'",
        id="branch-option",
    ),
    pytest.param(_stage('branch: "a\\nb"'), "spec.stages[1].branch: ", id="stage-branch-newline"),
    pytest.param(
        _stage('gates: {checks: ["c\\n## injected"]}'),
        "spec.stages[1].gates.checks[0]: ",
        id="check-newline",
    ),
    pytest.param(
        _stage('gates: {http: [{url: "https://h/\\r\\nX-Injected: 1"}]}'),
        "spec.stages[1].gates.http[0].url: ",
        id="gate-header-injection",
    ),
    pytest.param(
        _stage("gates: {http: [{url: 'https://h/', secretRef: {name: ../../etc}}]}"),
        "spec.stages[1].gates.http[0].secretRef.name: ",
        id="gate-secret-traversal",
    ),
    pytest.param(
        _stage("repository: {url: 'https://h/x.git', branch: main, secretRef: {name: ../x}}"),
        "spec.stages[1].repository.secretRef.name: ",
        id="repository-secret-traversal",
    ),
    pytest.param(
        HEAD + TWO + "  git: {url: 'https://h/x.git', secretRef: {name: /etc}}\n",
        "spec.git.secretRef.name: ",
        id="git-secret-absolute",
    ),
    pytest.param(
        _stage("repository: {url: '--upload-pack=touch /tmp/x', branch: main}"),
        "spec.stages[1].repository.url: ",
        id="repository-url-option",
    ),
    pytest.param(
        _stage("repository: {url: 'https://user:hunter2@h/x.git', branch: main}"),
        "spec.stages[1].repository.url: ",
        id="repository-url-credentials",
    ),
    pytest.param(
        HEAD + TWO + "  git: {url: 'ext::sh -c touch% /tmp/x'}\n",
        "spec.git.url: ",
        id="git-url-ext",
    ),
]


@pytest.mark.parametrize(("text", "expected"), HOSTILE)
def test_a_hostile_value_is_refused_at_its_field_in_a_short_message(
    text: str, expected: str
) -> None:
    errors = _errors(text)
    assert errors, "accepted"
    assert any(expected in e for e in errors), errors
    assert all(len(e) < 600 for e in errors), [e[:600] for e in errors]  # never echoed whole
    assert all("hunter2" not in e for e in errors)  # a password is never repeated
