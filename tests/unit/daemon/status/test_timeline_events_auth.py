"""The SVG timeline, the event list and the page's credentials: pure, table-driven."""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET

import pytest

from image_automation.daemon.status.auth import StatusAuth
from image_automation.daemon.status.events import EventFilter, events
from image_automation.daemon.status.model import VersionView
from image_automation.daemon.status.timeline import MAX_POINTS, timeline_svg
from image_automation.domain.events import EventKind, InvolvedObject, StoredEvent, make_event
from tests.unit.daemon.status.records import HOSTILE, SHA_A, at, inputs

SVG = "{http://www.w3.org/2000/svg}"


def versions(*values: str) -> list[VersionView]:
    return [VersionView(v, SHA_A, at(i), f"set {v}", "a.yaml") for i, v in enumerate(values)]


def test_a_rollback_steps_back_to_the_row_it_used_before() -> None:
    svg = ET.fromstring(str(timeline_svg(versions("1.0", "1.1", "1.0"), title="t")))
    labels = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "label"]
    points = [(float(c.get("cx", 0)), float(c.get("cy", 0))) for c in svg.iter(f"{SVG}circle")]
    assert labels == ["1.0", "1.1"]
    assert len(points) == 3
    assert points[0][1] == points[2][1] != points[1][1]
    assert points[0][0] < points[1][0] < points[2][0]


def test_hostile_values_and_titles_are_escaped_in_the_svg() -> None:
    text = str(timeline_svg(versions(HOSTILE, "1.0"), title=f'a"{HOSTILE}'))
    assert "<script>" not in text
    svg = ET.fromstring(text)  # still well-formed XML
    assert svg.get("aria-label") == f'a"{HOSTILE}'


def test_no_versions_is_a_note_not_a_chart() -> None:
    assert "<svg" not in str(timeline_svg([], title="t"))


def test_one_version_and_a_huge_history_still_draw() -> None:
    one = ET.fromstring(str(timeline_svg(versions("1.0"), title="t")))
    assert len(list(one.iter(f"{SVG}circle"))) == 1
    many = [f"1.{i}" for i in range(MAX_POINTS + 50)]
    svg = ET.fromstring(str(timeline_svg(versions(*many), title="t")))
    assert len(list(svg.iter(f"{SVG}circle"))) == MAX_POINTS


def test_without_an_event_log_the_records_tell_what_happened() -> None:
    found = events(inputs())
    assert [(e.kind, e.subject) for e in found] == [
        ("scan_failed", f"r.test/{HOSTILE}"),
        ("pr_opened", "fleet"),
        ("commit_pushed", "fleet"),
    ]
    assert found[0].message == "scan failed: 401 from r.test token=***"
    assert found[1].url == "https://forge.test/o/r/pull/7"


def logged(kind: EventKind, hours: float, **metadata: str) -> StoredEvent:
    obj = InvolvedObject("ImageUpdateAutomation", "apps", HOSTILE)
    event = make_event(kind, involved=obj, message=f"{kind} password=hunter2", now=at(hours),
                       metadata=metadata)  # fmt: skip
    return StoredEvent(int(hours * 10), event)


def test_the_event_log_replaces_the_derived_events_but_scan_failures_stay() -> None:
    log = [logged("failure", 6), logged("pr_merged", 5, url="javascript:alert(1)"),
           logged("commit_pushed", 4.5, url="https://forge.test/c/1")]  # fmt: skip
    found = events(inputs(events=log))
    assert [e.kind for e in found] == ["failure", "pr_merged", "commit_pushed", "scan_failed"]
    assert found[0].severity == "error"
    assert found[0].subject == f"ImageUpdateAutomation/apps/{HOSTILE}"
    assert found[0].message == "failure password=***"
    assert (found[1].url, found[2].url) == (None, "https://forge.test/c/1")
    assert [e.kind for e in events(inputs(events=log), EventFilter(severity="error"))] == [
        "failure", "scan_failed"]  # fmt: skip


@pytest.mark.parametrize(
    ("wanted", "kinds"),
    [
        (EventFilter(kind="commit_pushed"), ["commit_pushed"]),
        (EventFilter(severity="error"), ["scan_failed"]),
        (EventFilter(subject="FLEET"), ["pr_opened", "commit_pushed"]),
        (EventFilter(subject="nothing"), []),
        (EventFilter(limit=1), ["scan_failed"]),
        (EventFilter(limit=0), []),
        (EventFilter(limit=10**9), ["scan_failed", "pr_opened", "commit_pushed"]),
    ],
)
def test_event_filters(wanted: EventFilter, kinds: list[str]) -> None:
    assert [e.kind for e in events(inputs(), wanted)] == kinds


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


BOTH = StatusAuth(token="t0ken", username="ops", password="pa:ss")


@pytest.mark.parametrize(
    ("auth", "header", "allowed"),
    [
        (StatusAuth(), None, True),
        (StatusAuth(), "Bearer anything", True),
        (BOTH, None, False),
        (BOTH, "", False),
        (BOTH, "Bearer t0ken", True),
        (BOTH, "bearer   t0ken", True),
        (BOTH, "Bearer t0ke", False),
        (BOTH, "Bearer t0ken2", False),
        (BOTH, basic("ops", "pa:ss"), True),
        (BOTH, basic("ops", "pa:s"), False),
        (BOTH, basic("Ops", "pa:ss"), False),
        (BOTH, "Basic not-base64!", False),
        (BOTH, "Basic " + base64.b64encode(b"\xff\xfe").decode(), False),
        (BOTH, "Basic " + base64.b64encode(b"no-colon").decode(), False),
        (BOTH, "Bearer " + "x" * 100_000, False),
        (BOTH, "Digest t0ken", False),
        (StatusAuth(token="t0ken"), basic("ops", "pa:ss"), False),
        (StatusAuth(username="ops", password="pw"), "Bearer pw", False),
        (StatusAuth(username="ops"), None, True),  # half a basic secret is no credential
    ],
)
def test_credentials(auth: StatusAuth, header: str | None, allowed: bool) -> None:
    assert auth.allows(header) is allowed


def test_credentials_never_show_in_a_repr() -> None:
    assert "t0ken" not in repr(BOTH) and "pa:ss" not in repr(BOTH)
    assert BOTH.challenge.startswith("Basic ")
    assert StatusAuth(token="x").challenge.startswith("Bearer ")
