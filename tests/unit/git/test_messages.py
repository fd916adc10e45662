"""Commit messages rendered from an UpdateResult (pure, sandboxed Jinja2)."""

from __future__ import annotations

import pytest

from image_automation.domain import Change, UpdateResult
from image_automation.errors import ConfigError
from image_automation.git.messages import (
    MessageTemplateError,
    policy_of,
    render_message,
    template_data,
)

WEB = Change(
    "apps/web.yaml",
    12,
    "apps/v1",
    "Deployment",
    "prod",
    "web",
    "flux-system:web:tag",
    "1.0.0",
    "1.1.0",
)
WORKER = Change(
    "apps/web.yaml",
    40,
    "apps/v1",
    "Deployment",
    "prod",
    "worker",
    "flux-system:worker",
    "ghcr.io/x/w:1",
    "ghcr.io/x/w:2",
)
JOB = Change(
    "base/job.yaml",
    3,
    "batch/v1",
    "CronJob",
    "",
    "nightly",
    "flux-system:web:tag",
    "1.0.0",
    "1.1.0",
)
RESULT = UpdateResult(changes=(JOB, WORKER, WEB))


def test_default_message_lists_every_change_grouped_by_file() -> None:
    assert render_message(RESULT) == (
        "Update 3 image references in 2 files\n"
        "\n"
        "apps/web.yaml:\n"
        "- Deployment prod/web (flux-system:web:tag, line 12): 1.0.0 -> 1.1.0\n"
        "- Deployment prod/worker (flux-system:worker, line 40): ghcr.io/x/w:1 -> ghcr.io/x/w:2\n"
        "\n"
        "base/job.yaml:\n"
        "- CronJob nightly (flux-system:web:tag, line 3): 1.0.0 -> 1.1.0\n"
        "\n"
        "Policies: flux-system:web, flux-system:worker\n"
    )


def test_default_message_singular_and_automation_prefix() -> None:
    message = render_message(UpdateResult(changes=(WEB,)), automation="apps")
    assert message.splitlines()[0] == "apps: Update 1 image reference in 1 file"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ images | join(' ') }}", "1.1.0 ghcr.io/x/w:2\n"),
        (
            "{{ objects | list | join(',') }}",
            "Deployment prod/web,Deployment prod/worker,CronJob nightly\n",
        ),
        (
            "{% for p, cs in policies.items() %}{{ p }}={{ cs|length }};{% endfor %}",
            "flux-system:web=2;flux-system:worker=1;\n",
        ),
        (
            "{{ changes[0].file }}:{{ changes[0].line }} {{ changes[0].old }}",
            "apps/web.yaml:12 1.0.0\n",
        ),
        ("{{ values.env }}: {{ automation }}", "prod: nightly-bump\n"),
    ],
)
def test_custom_templates_see_the_documented_variables(template: str, expected: str) -> None:
    out = render_message(RESULT, template, automation="nightly-bump", values={"env": "prod"})
    assert out == expected


@pytest.mark.parametrize(
    ("template", "fragment"),
    [
        ("{% for x in changes %}", "line 1"),
        ("{{ chnages }}", "'chnages' is undefined"),
        ("{{ ''.__class__.__mro__ }}", "unsafe"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{% if false %}x{% endif %}   \n", "empty message"),
    ],
)
def test_bad_templates_raise_a_clear_config_error(template: str, fragment: str) -> None:
    with pytest.raises(MessageTemplateError) as caught:
        render_message(RESULT, template)
    assert isinstance(caught.value, ConfigError)
    assert "commit message template" in str(caught.value)
    assert fragment in str(caught.value)


@pytest.mark.parametrize(
    ("setter", "policy"),
    [
        ("flux-system:app:tag", "flux-system:app"),
        ("flux-system:app:name", "flux-system:app"),
        ("flux-system:app", "flux-system:app"),
        ("app", "app"),
        ("ns:app:other", "ns:app:other"),
    ],
)
def test_policy_is_the_setter_without_its_field(setter: str, policy: str) -> None:
    assert policy_of(setter) == policy


def test_template_data_orders_changes_by_file_then_line() -> None:
    data = template_data(RESULT)
    assert [(c["file"], c["line"]) for c in data["changes"]] == [
        ("apps/web.yaml", 12),
        ("apps/web.yaml", 40),
        ("base/job.yaml", 3),
    ]
    assert list(data["files"]) == ["apps/web.yaml", "base/job.yaml"]
