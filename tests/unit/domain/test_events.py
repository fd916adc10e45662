"""The event model: defaults per kind, refusals of values no reader could use, clipping."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from image_automation.domain.events import (
    EVENT_KINDS,
    MAX_MESSAGE,
    MAX_METADATA,
    REASONS,
    Event,
    EventQuery,
    InvalidEvent,
    InvolvedObject,
    make_event,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
APPS = InvolvedObject(kind="ImageUpdateAutomation", namespace="flux-system", name="apps")


@pytest.mark.parametrize(
    ("kind", "severity"),
    [("commit_pushed", "info"), ("failure", "error"), ("failure_resolved", "info")],
)
def test_each_kind_has_its_default_severity(kind: str, severity: str) -> None:
    event = make_event(kind, involved=APPS, message="m", now=T0)  # type: ignore[arg-type]
    assert event.severity == severity


def test_every_kind_has_a_flux_style_reason() -> None:
    assert set(REASONS) == set(EVENT_KINDS)
    assert all(reason[0].isupper() and " " not in reason for reason in REASONS.values())


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: make_event("nope", involved=APPS, message="m", now=T0), "unknown event kind"),  # type: ignore[arg-type]
        (
            lambda: make_event("hold", involved=APPS, message="m", now=T0, severity="warn"),  # type: ignore[arg-type]
            "unknown severity",
        ),
        (lambda: make_event("hold", involved=APPS, message="m", now=datetime(2026, 1, 1)), "aware"),
        (lambda: InvolvedObject(kind="", namespace="a", name="b"), "empty kind"),
        (lambda: InvolvedObject(kind="K", namespace="a", name=""), "empty name"),
        (lambda: InvolvedObject.from_key("no-slashes"), "not an object key"),
        (
            lambda: make_event(
                "hold",
                involved=APPS,
                message="m",
                now=T0,
                metadata={str(i): "v" for i in range(MAX_METADATA + 1)},
            ),
            "entries",
        ),
        (
            lambda: make_event("hold", involved=APPS, message="m", now=T0, metadata={"": "v"}),
            "non-empty",
        ),
        (lambda: EventQuery(limit=0), "limit"),
        (lambda: EventQuery(limit=10**9), "limit"),
        (lambda: EventQuery(kinds=("bogus",)), "unknown event kind"),  # type: ignore[arg-type]
        (lambda: EventQuery(severity="fatal"), "unknown severity"),  # type: ignore[arg-type]
    ],
)
def test_unusable_values_are_refused(build: object, match: str) -> None:
    with pytest.raises(InvalidEvent, match=match):
        build()  # type: ignore[operator]


def test_huge_message_and_metadata_values_are_clipped() -> None:
    event = make_event(
        "hold", involved=APPS, message="x" * 100_000, now=T0, metadata={"k": "y" * 100_000}
    )
    assert len(event.message) == MAX_MESSAGE and event.message.endswith("…")
    assert len(event.metadata["k"]) == 1024


def test_metadata_order_does_not_change_equality() -> None:
    one = make_event("hold", involved=APPS, message="m", now=T0, metadata={"a": "1", "b": "2"})
    two = make_event("hold", involved=APPS, message="m", now=T0, metadata={"b": "2", "a": "1"})
    assert one == two and hash(one) == hash(two)
    assert isinstance(one, Event)


def test_object_key_round_trips_with_slashes_in_the_name() -> None:
    obj = InvolvedObject(kind="K", namespace="ns", name="a/b/c")
    assert InvolvedObject.from_key(obj.key) == obj
