"""Each provider type's request follows its service's documented schema, for every event kind
and for hostile text; the generic-hmac signature is Flux's."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from image_automation.domain.events import EVENT_KINDS, Event, InvolvedObject, make_event
from image_automation.notify import Context, PayloadError, ProviderSecrets, ProviderSettings, build
from tests.notify_schemas import cloudevent_from_headers, problems

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
APPS = InvolvedObject(kind="ImageUpdateAutomation", namespace="flux-system", name="apps")
SHA = "c" * 40
HOSTILE = InvolvedObject(
    kind="ImageUpdateAutomation", namespace="ns", name="<!channel> @everyone & <https://x|y>"
)


def provider(kind: str, **overrides: object) -> ProviderSettings:
    fields: dict[str, object] = {
        "key": "flux-system/p",
        "type": kind,
        "address": "https://hooks.example.test/services/T000/B000/SECRETPATH",
        "channel": "routing-key-123" if kind == "pagerduty" else None,
        "secrets": ProviderSecrets(token="hmac-key-Secr3t"),
    }
    if kind in ("github", "gitlab"):
        fields["address"] = "https://git.example.test/org/sub/repo"
    fields.update(overrides)
    return ProviderSettings(**fields)  # type: ignore[arg-type]


def event(
    kind: str = "commit_pushed", *, involved: InvolvedObject = APPS, message: str = ""
) -> Event:
    return make_event(
        kind,  # type: ignore[arg-type]
        involved=involved,
        message=message or f"pushed {SHA[:12]}: flux-system:web 1.0 → 1.1",
        now=T0,
        metadata={"commit": SHA, "url": "https://forge.example/pr/1"},
    )


SCHEMA = {
    "slack": "slack-message",
    "msteams": "msteams-workflow-message",
    "discord": "discord-execute-webhook",
    "generic": "flux-event",
    "generic-hmac": "flux-event",
    "github": "github-commit-status",
    "gitlab": "gitlab-commit-status",
}


def test_the_schemas_refuse_a_wrong_body() -> None:
    for name in [*SCHEMA.values(), "pagerduty-events-v2", "pagerduty-change-event"]:
        assert problems(name, {"unexpected": True}), name


@pytest.mark.parametrize("kind", sorted(SCHEMA))
@pytest.mark.parametrize("event_kind", EVENT_KINDS)
@pytest.mark.parametrize("involved", [APPS, HOSTILE], ids=["plain", "hostile"])
def test_every_event_follows_the_service_schema(
    kind: str, event_kind: str, involved: InvolvedObject
) -> None:
    out = build(provider(kind), event(event_kind, involved=involved), Context())
    if kind in ("github", "gitlab") and event_kind != "commit_pushed":
        assert out is None
        return
    assert out is not None
    assert problems(SCHEMA[kind], json.loads(out.body)) == []


@pytest.mark.parametrize("event_kind", EVENT_KINDS)
def test_pagerduty_triggers_on_failure_resolves_on_recovery_and_logs_changes(
    event_kind: str,
) -> None:
    out = build(provider("pagerduty"), event(event_kind), Context())
    assert out is not None
    body = json.loads(out.body)
    if event_kind in ("failure", "failure_resolved"):
        assert out.url == "https://hooks.example.test/services/T000/B000/SECRETPATH/v2/enqueue"
        assert problems("pagerduty-events-v2", body) == []
        assert body["event_action"] == ("trigger" if event_kind == "failure" else "resolve")
        assert body["dedup_key"] == "image-automation/ImageUpdateAutomation/flux-system/apps"
        assert body["routing_key"] == "routing-key-123"
    else:
        assert out.url.endswith("/v2/change/enqueue")
        assert problems("pagerduty-change-event", body) == []


def test_a_trigger_and_its_resolve_share_one_dedup_key() -> None:
    bodies = [json.loads(build(provider("pagerduty"), event(k), Context()).body)  # type: ignore[union-attr]
              for k in ("failure", "failure_resolved")]  # fmt: skip
    assert bodies[0]["dedup_key"] == bodies[1]["dedup_key"]


def test_pagerduty_without_a_routing_key_is_refused() -> None:
    with pytest.raises(PayloadError, match="routing key"):
        build(provider("pagerduty", channel=None, secrets=ProviderSecrets()), event(), Context())


def test_generic_hmac_signs_the_exact_body_as_flux_does() -> None:
    out = build(provider("generic-hmac"), event(), Context())
    assert out is not None
    expected = hmac.new(b"hmac-key-Secr3t", out.body, hashlib.sha256).hexdigest()
    assert out.headers["X-Signature"] == f"sha256={expected}"


def test_generic_hmac_without_a_key_is_refused() -> None:
    with pytest.raises(PayloadError, match="token"):
        build(provider("generic-hmac", secrets=ProviderSecrets()), event(), Context())


@pytest.mark.parametrize("kind", ["generic", "generic-hmac"])
def test_generic_is_a_binary_mode_cloudevent_around_the_flux_event(kind: str) -> None:
    out = build(provider(kind), event(), Context())
    assert out is not None
    cloudevent = cloudevent_from_headers(out.headers, out.body)
    assert problems("cloudevents-1.0", cloudevent) == []
    assert cloudevent["type"] == "io.image-automation.event.commit_pushed"
    assert cloudevent["data"]["involvedObject"]["name"] == "apps"


def test_the_same_event_keeps_its_cloudevent_id_across_retries() -> None:
    one = build(provider("generic"), event(), Context())
    two = build(provider("generic"), event(), Context())
    assert one is not None and two is not None
    assert one.headers["ce-id"] == two.headers["ce-id"]


def test_alert_metadata_and_summary_are_added_but_never_override_the_event() -> None:
    context = Context(metadata={"env": "prod", "commit": "not-this"}, summary="cluster A")
    out = build(provider("generic"), event(), context)
    assert out is not None
    meta = json.loads(out.body)["metadata"]
    assert meta["env"] == "prod" and meta["summary"] == "cluster A" and meta["commit"] == SHA


def test_slack_escapes_control_sequences_so_a_name_cannot_mention_a_channel() -> None:
    out = build(provider("slack"), event(involved=HOSTILE), Context())
    assert out is not None
    text = out.body.decode()
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


def test_slack_with_a_token_uses_the_web_api_and_channel() -> None:
    out = build(provider("slack", channel="#ops"), event(), Context())
    assert out is not None and out.slack_api
    assert out.headers["Authorization"] == "Bearer hmac-key-Secr3t"
    assert json.loads(out.body)["channel"] == "#ops"


def test_discord_disables_every_mention() -> None:
    out = build(provider("discord"), event(involved=HOSTILE), Context())
    assert out is not None
    assert json.loads(out.body)["allowed_mentions"] == {"parse": []}


@pytest.mark.parametrize("kind", sorted(SCHEMA))
def test_huge_messages_and_metadata_still_fit_the_limits(kind: str) -> None:
    big = make_event(
        "commit_pushed", involved=APPS, message="x" * 100_000, now=T0,
        metadata={f"k{i}": "v" * 5000 for i in range(30)} | {"commit": SHA},
    )  # fmt: skip
    out = build(provider(kind), big, Context())
    assert out is not None
    assert problems(SCHEMA[kind], json.loads(out.body)) == []


@pytest.mark.parametrize(
    ("kind", "address", "url"),
    [
        ("github", "https://github.com/org/repo", f"https://api.github.com/repos/org/repo/statuses/{SHA}"),
        ("github", "https://ghe.example/org/repo.git", f"https://ghe.example/api/v3/repos/org/repo/statuses/{SHA}"),
        ("gitlab", "https://gitlab.com/group/sub/proj", f"https://gitlab.com/api/v4/projects/group%2Fsub%2Fproj/statuses/{SHA}"),
    ],
)  # fmt: skip
def test_commit_status_goes_to_the_repository_api(kind: str, address: str, url: str) -> None:
    out = build(provider(kind, address=address), event(), Context())
    assert out is not None and out.url == url


@pytest.mark.parametrize("address", ["https://github.com/only-owner", "ftp://x/y/z", "not a url"])
def test_a_commit_status_address_that_is_not_a_repository_is_refused(address: str) -> None:
    with pytest.raises(PayloadError, match="repository"):
        build(provider("github", address=address), event(), Context())


def test_settings_repr_shows_no_secret() -> None:
    text = repr(provider("slack"))
    assert "SECRETPATH" not in text and "hmac-key-Secr3t" not in text
