"""The sandbox every user template runs in (commit messages and pull-request texts)."""

from __future__ import annotations

import jinja2
import pytest

from image_automation.domain import Change, UpdateResult
from image_automation.git._templates import (
    change_data,
    policy_of,
    render_capped,
    sandbox,
    setter_field,
    template_line,
)
from image_automation.git.messages import MessageTemplateError, render_message

RESULT = UpdateResult(
    changes=(Change("a.yaml", 1, "apps/v1", "Deployment", "ns", "web", "ns:web:tag", "1", "2"),)
)


@pytest.mark.parametrize(
    "template",
    [
        "{{ 'x' * 2000000 }}",  # two million characters from one expression
        "{{ [1] * 2000000 }}",
        "{{ 2000000 * 'x' }}",
        "{{ 10 ** 100000 }}",  # a bignum that takes long to compute and print
        "{{ lipsum(100000) }}",  # megabytes of lorem ipsum from one call
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
    ],
)
def test_commit_message_template_cannot_allocate_without_bound_or_escape(template: str) -> None:
    with pytest.raises(MessageTemplateError):
        render_message(RESULT, template)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ 'ab' * 3 }}", "ababab"),
        ("{{ 2 ** 10 }}", "1024"),
        ("{{ 1 ** 100000 }}", "1"),
        ("{{ 1.5 * 2 }}", "3.0"),
    ],
)
def test_bounded_operators_still_compute_small_values(template: str, expected: str) -> None:
    assert sandbox().from_string(template).render() == expected


def test_render_capped_stops_streaming_past_the_limit() -> None:
    template = sandbox().from_string("{% for i in range(100000) %}0123456789{% endfor %}")
    text, whole = render_capped(template, {}, limit=25)
    assert (len(text), whole) == (26, False)
    assert render_capped(sandbox().from_string("short"), {}, limit=25) == ("short", True)


def test_template_line_names_the_line_of_a_render_error() -> None:
    template = sandbox().from_string("one\ntwo\n{{ missing.field }}\n")
    with pytest.raises(jinja2.UndefinedError) as caught:
        template.render()
    assert template_line(caught.value) == 3


@pytest.mark.parametrize(
    ("setter", "policy", "field"),
    [
        ("ns:app", "ns:app", "image"),
        ("ns:app:tag", "ns:app", "tag"),
        ("ns:app:name", "ns:app", "name"),
        ("ns:app:digest", "ns:app", "digest"),
        ("ns:app:other", "ns:app:other", "image"),
        (":tag", ":tag", "image"),
    ],
)
def test_setter_parts(setter: str, policy: str, field: str) -> None:
    assert (policy_of(setter), setter_field(setter)) == (policy, field)


def test_change_data_names_the_object() -> None:
    data = change_data(RESULT.changes[0])
    assert (data["object"], data["policy"]) == ("Deployment ns/web", "ns:web")
