"""Each forge's webhook proof and pull-request payload, table-driven (facts from the forges'
webhook docs), and hostile bodies that must come back MALFORMED, never as an exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict

from image_automation.daemon.forge_hooks import (
    PROVIDERS,
    ForgeEvent,
    PullRequestAction,
    verify_forge_event,
)
from image_automation.daemon.hooks import Verdict
from tests.unit.daemon.forge_payloads import (
    SECRET,
    Delivery,
    azure,
    azure_payload,
    bitbucket,
    bitbucket_payload,
    dump,
    gitea,
    github,
    github_payload,
    gitlab,
    gitlab_payload,
    sign,
)

A = PullRequestAction


def check(provider: str, delivery: Delivery, secret: str = SECRET) -> tuple[Verdict, str]:
    headers, body = delivery
    result = verify_forge_event(provider, secret=secret, headers=CIMultiDict(headers), body=body)
    assert (result.event is not None) == (result.verdict is Verdict.ACCEPTED)
    assert not secret or secret not in result.reason
    return result.verdict, result.reason


def event_of(provider: str, delivery: Delivery) -> ForgeEvent:
    headers, body = delivery
    result = verify_forge_event(provider, secret=SECRET, headers=CIMultiDict(headers), body=body)
    assert result.event is not None, result
    return result.event


def ev(
    provider: str,
    repository: str,
    action: PullRequestAction,
    *,
    body_edited: bool = False,
    head: str = "image-updates",
) -> ForgeEvent:
    return ForgeEvent(provider, repository, 7, head, "main", action, body_edited)


BODY_CHANGE: dict[str, object] = {"body": {"from": "- [ ] rebase now"}}
ACCEPTED: list[tuple[str, str, Delivery, ForgeEvent]] = [
    ("github opened", "github", github(github_payload("opened")),
     ev("github", "org/fleet", A.OPENED)),
    ("github closed unmerged", "github", github(github_payload("closed")),
     ev("github", "org/fleet", A.CLOSED)),
    ("github closed merged", "github", github(github_payload("closed", merged=True)),
     ev("github", "org/fleet", A.MERGED)),
    ("github reopened", "github", github(github_payload("reopened")),
     ev("github", "org/fleet", A.REOPENED)),
    ("github synchronize", "github", github(github_payload("synchronize")),
     ev("github", "org/fleet", A.SYNCHRONIZED)),
    ("github body edited", "github", github(github_payload("edited", changes=BODY_CHANGE)),
     ev("github", "org/fleet", A.EDITED, body_edited=True)),
    ("github title edited", "github",
     github(github_payload("edited", changes={"title": {"from": "x"}})),
     ev("github", "org/fleet", A.EDITED)),
    ("github upper-case hex", "github",
     ({**github(github_payload())[0],
       "X-Hub-Signature-256": "SHA256=" + sign(github(github_payload())[1]).upper()},
      github(github_payload())[1]),
     ev("github", "org/fleet", A.CLOSED)),
    ("gitlab merge", "gitlab", gitlab(gitlab_payload("merge")),
     ev("gitlab", "group/sub/fleet", A.MERGED)),
    ("gitlab close", "gitlab", gitlab(gitlab_payload("close")),
     ev("gitlab", "group/sub/fleet", A.CLOSED)),
    ("gitlab reopen", "gitlab", gitlab(gitlab_payload("reopen")),
     ev("gitlab", "group/sub/fleet", A.REOPENED)),
    ("gitlab open", "gitlab", gitlab(gitlab_payload("open")),
     ev("gitlab", "group/sub/fleet", A.OPENED)),
    ("gitlab update with description", "gitlab",
     gitlab(gitlab_payload("update", changes={"description": {"previous": "", "current": "x"}})),
     ev("gitlab", "group/sub/fleet", A.EDITED, body_edited=True)),
    ("gitlab update with new commits", "gitlab", gitlab(gitlab_payload("update", oldrev="a" * 40)),
     ev("gitlab", "group/sub/fleet", A.SYNCHRONIZED)),
    ("gitlab system hook", "gitlab", gitlab(gitlab_payload("merge"), event="System Hook"),
     ev("gitlab", "group/sub/fleet", A.MERGED)),
    ("gitea merged", "gitea", gitea(github_payload("closed", merged=True)),
     ev("gitea", "org/fleet", A.MERGED)),
    ("gitea synchronized", "gitea", gitea(github_payload("synchronized")),
     ev("gitea", "org/fleet", A.SYNCHRONIZED)),
    ("gitea body edited", "gitea", gitea(github_payload("edited", changes=BODY_CHANGE)),
     ev("gitea", "org/fleet", A.EDITED, body_edited=True)),
    ("forgejo own headers", "forgejo", gitea(github_payload("closed"), forge="Forgejo"),
     ev("forgejo", "org/fleet", A.CLOSED)),
    ("forgejo with gitea headers only", "forgejo", gitea(github_payload("reopened")),
     ev("forgejo", "org/fleet", A.REOPENED)),
    ("bitbucket fulfilled", "bitbucket", bitbucket(bitbucket_payload()),
     ev("bitbucket", "workspace/fleet", A.MERGED)),
    ("bitbucket rejected", "bitbucket",
     bitbucket(bitbucket_payload(state="DECLINED"), key="pullrequest:rejected"),
     ev("bitbucket", "workspace/fleet", A.CLOSED)),
    ("bitbucket created", "bitbucket",
     bitbucket(bitbucket_payload(state="OPEN"), key="pullrequest:created"),
     ev("bitbucket", "workspace/fleet", A.OPENED)),
    ("bitbucket updated may have a new body", "bitbucket",
     bitbucket(bitbucket_payload(state="OPEN"), key="pullrequest:updated"),
     ev("bitbucket", "workspace/fleet", A.EDITED, body_edited=True)),
    ("azure merged", "azuredevops", azure(azure_payload()),
     ev("azuredevops", "org/Fleet Project/_git/fleet", A.MERGED)),
    ("azure completed update", "azuredevops",
     azure(azure_payload("git.pullrequest.updated", status="completed")),
     ev("azuredevops", "org/Fleet Project/_git/fleet", A.MERGED)),
    ("azure abandoned", "azuredevops",
     azure(azure_payload("git.pullrequest.updated", status="abandoned")),
     ev("azuredevops", "org/Fleet Project/_git/fleet", A.CLOSED)),
    ("azure active update", "azuredevops",
     azure(azure_payload("git.pullrequest.updated", status="active")),
     ev("azuredevops", "org/Fleet Project/_git/fleet", A.SYNCHRONIZED)),
    ("azure created", "azuredevops",
     azure(azure_payload("git.pullrequest.created", status="active")),
     ev("azuredevops", "org/Fleet Project/_git/fleet", A.OPENED)),
    ("azure any user name", "azuredevops", azure(azure_payload(), user=""),
     ev("azuredevops", "org/Fleet Project/_git/fleet", A.MERGED)),
    ("azure visualstudio.com", "azuredevops",
     azure(azure_payload(remote_url="https://org.visualstudio.com/DefaultCollection/P/_git/r")),
     ev("azuredevops", "org/Fleet Project/_git/fleet", A.MERGED)),
    ("azure devops server", "azuredevops",
     azure(azure_payload(remote_url="https://tfs.example.com/tfs/Main/Fleet%20Project/_git/fleet")),
     ev("azuredevops", "Main/Fleet Project/_git/fleet", A.MERGED)),
    ("azure head outside refs/heads", "azuredevops", azure(azure_payload(source="image-updates")),
     ev("azuredevops", "org/Fleet Project/_git/fleet", A.MERGED)),
    ("azure organisation from the API url", "azuredevops",
     azure(azure_payload(remote_url="not a url")),
     ev("azuredevops", "org/Fleet Project/_git/fleet", A.MERGED)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("provider", "delivery", "expected"),
    [case[1:] for case in ACCEPTED],
    ids=[case[0] for case in ACCEPTED],
)
def test_a_verified_pull_request_event_is_parsed(
    provider: str, delivery: Delivery, expected: ForgeEvent
) -> None:
    assert event_of(provider, delivery) == expected


def _tampered(delivery: Delivery) -> Delivery:
    headers, body = delivery
    return headers, body.replace(b'"main"', b'"prod"')


def _without(delivery: Delivery, header: str) -> Delivery:
    headers, body = delivery
    return {k: v for k, v in headers.items() if k.lower() != header.lower()}, body


def _with(delivery: Delivery, header: str, value: str) -> Delivery:
    headers, body = _without(delivery, header)
    return {**headers, header: value}, body


GH, GL = github(github_payload()), gitlab(gitlab_payload())
GT, FJ = gitea(github_payload()), gitea(github_payload(), forge="Forgejo")
BB, AZ = bitbucket(bitbucket_payload()), azure(azure_payload())
REFUSED: list[tuple[str, str, Delivery]] = [
    ("github wrong secret", "github", github(github_payload(), secret="other")),
    ("github missing signature", "github", _without(GH, "X-Hub-Signature-256")),
    ("github tampered body", "github", _tampered(GH)),
    ("github sha1 signature only", "github",
     _with(_without(GH, "X-Hub-Signature-256"), "X-Hub-Signature", "sha1=00")),
    ("github bare hex", "github", _with(GH, "X-Hub-Signature-256", sign(GH[1]))),
    ("github non-ascii signature", "github",
     _with(GH, "X-Hub-Signature-256", "sha256=\u00e9\udcff")),
    ("gitlab wrong token", "gitlab", gitlab(gitlab_payload(), token="other")),
    ("gitlab missing token", "gitlab", _without(GL, "X-Gitlab-Token")),
    ("gitlab token prefix", "gitlab", gitlab(gitlab_payload(), token=SECRET[:-1])),
    ("gitlab empty token", "gitlab", gitlab(gitlab_payload(), token="")),
    ("gitea wrong secret", "gitea", gitea(github_payload(), secret="other")),
    ("gitea missing signature", "gitea", _without(GT, "X-Gitea-Signature")),
    ("gitea tampered body", "gitea", _tampered(GT)),
    ("gitea with forgejo header only", "gitea",
     _with(_without(GT, "X-Gitea-Signature"), "X-Forgejo-Signature", sign(GT[1]))),
    ("gitea sha256= prefix", "gitea", _with(GT, "X-Gitea-Signature", "sha256=" + sign(GT[1]))),
    ("forgejo wrong secret", "forgejo", gitea(github_payload(), secret="x", forge="Forgejo")),
    ("forgejo tampered body", "forgejo", _tampered(FJ)),
    ("forgejo unsigned", "forgejo",
     _without(_without(FJ, "X-Forgejo-Signature"), "X-Gitea-Signature")),
    ("bitbucket wrong secret", "bitbucket", bitbucket(bitbucket_payload(), secret="other")),
    ("bitbucket missing signature", "bitbucket", _without(BB, "X-Hub-Signature")),
    ("bitbucket tampered body", "bitbucket", _tampered(BB)),
    ("bitbucket without algorithm", "bitbucket", _with(BB, "X-Hub-Signature", sign(BB[1]))),
    ("azure wrong password", "azuredevops", azure(azure_payload(), password="other")),
    ("azure missing auth", "azuredevops", _without(AZ, "Authorization")),
    ("azure bearer", "azuredevops", _with(AZ, "Authorization", f"Bearer {SECRET}")),
    ("azure not base64", "azuredevops", _with(AZ, "Authorization", "Basic ***")),
    ("azure no colon", "azuredevops", _with(AZ, "Authorization", "Basic " + "c2VjcmV0")),
    ("azure non-ascii", "azuredevops", _with(AZ, "Authorization", "Basic \u00e9\udcff")),
    ("azure not utf-8 credentials", "azuredevops", _with(AZ, "Authorization", "Basic /w==")),
    ("unknown provider", "bitbucket-server", GH),
]  # fmt: skip


@pytest.mark.parametrize(
    ("provider", "delivery"), [case[1:] for case in REFUSED], ids=[case[0] for case in REFUSED]
)
def test_a_missing_wrong_or_stale_proof_is_unauthorized(provider: str, delivery: Delivery) -> None:
    assert check(provider, delivery)[0] is Verdict.UNAUTHORIZED


def test_an_empty_secret_proves_nothing() -> None:
    for provider, delivery in [("github", github(github_payload(), secret="")),
                               ("gitlab", gitlab(gitlab_payload(), token=""))]:  # fmt: skip
        assert check(provider, delivery, secret="")[0] is Verdict.UNAUTHORIZED


# Pushes and commit statuses wake promotions (tests/unit/daemon/test_repo_events.py); a tag
# push moves no branch.
TAG_PUSH = {"ref": "refs/tags/v1.0.0", "after": "a" * 40, "repository": {"full_name": "org/fleet"}}
GITLAB_TAG_PUSH = {"object_kind": "push", "ref": "refs/tags/v1.0.0", "after": "a" * 40,
                   "project": {"path_with_namespace": "org/fleet"}}  # fmt: skip
BITBUCKET_TAG_PUSH = {"push": {"changes": [{"new": {"type": "tag", "name": "v1"}}]},
                      "repository": {"full_name": "ws/fleet"}}  # fmt: skip
AZURE_TAG_PUSH = {
    "eventType": "git.push",
    "resource": {
        "refUpdates": [{"name": "refs/tags/v1", "newObjectId": "a" * 40}],
        "repository": azure_payload("git.pullrequest.created")["resource"]["repository"],  # type: ignore[index]
    },
}

IGNORED: list[tuple[str, str, Delivery]] = [
    ("github ping", "github", github({"zen": "Keep it simple."}, event="ping")),
    ("github tag push", "github", github(TAG_PUSH, event="push")),
    ("github labeled", "github", github(github_payload("labeled"))),
    ("github review requested", "github", github(github_payload("review_requested"))),
    ("gitlab tag in a push hook", "gitlab", gitlab(GITLAB_TAG_PUSH, event="Push Hook")),
    ("gitlab approved", "gitlab", gitlab(gitlab_payload("approved"))),
    ("gitlab system hook about a push", "gitlab",
     gitlab({"object_kind": "push"}, event="System Hook")),
    ("gitea tag push", "gitea", gitea(TAG_PUSH, event="push")),
    ("gitea label updated", "gitea", gitea(github_payload("label_updated"))),
    ("forgejo approved review", "forgejo", gitea(github_payload(), event="pull_request_approved",
                                                 forge="Forgejo")),
    ("bitbucket approved", "bitbucket", bitbucket(bitbucket_payload(), key="pullrequest:approved")),
    ("bitbucket tag push", "bitbucket", bitbucket(BITBUCKET_TAG_PUSH, key="repo:push")),
    ("bitbucket no event key", "bitbucket", _without(BB, "X-Event-Key")),
    ("azure tag push", "azuredevops", azure(AZURE_TAG_PUSH)),
    ("azure merge attempt on an active request", "azuredevops",
     azure(azure_payload("git.pullrequest.merged", status="active"))),
    ("azure comment", "azuredevops",
     azure({"eventType": "ms.vss-code.git-pullrequest-comment-event", "resource": {}})),
]  # fmt: skip


@pytest.mark.parametrize(
    ("provider", "delivery"), [case[1:] for case in IGNORED], ids=[case[0] for case in IGNORED]
)
def test_an_event_that_changes_no_pull_request_state_is_ignored(
    provider: str, delivery: Delivery
) -> None:
    assert check(provider, delivery)[0] is Verdict.IGNORED


def deep(levels: int) -> bytes:
    return b'{"a":' * (levels - 1) + b"[1]" + b"}" * (levels - 1)


def with_field(path: tuple[str, ...], value: object) -> dict[str, object]:
    payload = github_payload()
    node: dict[str, object] = payload
    for key in path[:-1]:
        child = node[key]
        assert isinstance(child, dict)
        node = child
    node[path[-1]] = value
    return payload


MALFORMED: list[tuple[str, str, Delivery]] = [
    ("not json", "github", github("x")),
    ("not an object", "github", github([1, 2])),
    ("truncated json", "github", (github(github_payload())[0] | {"X-Hub-Signature-256":
     "sha256=" + sign(b'{"action": "closed"')}, b'{"action": "closed"')),
    ("not utf-8", "github", (github({})[0] | {"X-Hub-Signature-256": "sha256=" + sign(b"\xff\xfe")},
                             b"\xff\xfe")),
    ("utf-8 bom", "github", (github({})[0] | {"X-Hub-Signature-256":
     "sha256=" + sign(b"\xef\xbb\xbf{}")}, b"\xef\xbb\xbf{}")),
    ("nested 33 levels", "github", (github({})[0] | {"X-Hub-Signature-256":
     "sha256=" + sign(deep(33))}, deep(33))),
    ("nested a hundred thousand levels", "github", (github({})[0] | {"X-Hub-Signature-256":
     "sha256=" + sign(b"[" * 100_000)}, b"[" * 100_000)),
    ("huge integer", "github", (github({})[0] | {"X-Hub-Signature-256":
     "sha256=" + sign(b'{"number": ' + b"9" * 5000 + b"}")}, b'{"number": ' + b"9" * 5000 + b"}")),
    ("missing action", "github", github({"number": 7})),
    ("action not a string", "github", github(with_field(("action",), ["closed"]))),
    ("missing pull_request", "github", github({"action": "closed", "number": 7})),
    ("pull_request a list", "github", github(with_field(("pull_request",), []))),
    ("number a string", "github", github(with_field(("number",), "7"))),
    ("number a bool", "github", github(with_field(("number",), True))),
    ("number zero", "github", github(with_field(("number",), 0))),
    ("number a float", "github", github(with_field(("number",), 7.0))),
    ("number too big", "github", github(with_field(("number",), 2**63))),
    ("merged a string", "github", github(with_field(("pull_request", "merged"), "true"))),
    ("head ref missing", "github", github(with_field(("pull_request", "head"), {}))),
    ("head ref empty", "github", github(with_field(("pull_request", "head"), {"ref": ""}))),
    ("head ref with newline", "github",
     github(with_field(("pull_request", "head"), {"ref": "a\nINFO forged"}))),
    ("head ref too long", "github",
     github(with_field(("pull_request", "head"), {"ref": "b" * 1025}))),
    ("repository a string", "github", github(with_field(("repository",), "org/fleet"))),
    ("gitlab wrong object kind", "gitlab", gitlab({**gitlab_payload(), "object_kind": "push"})),
    ("gitlab missing attributes", "gitlab", gitlab({"object_kind": "merge_request"})),
    ("gitlab iid null", "gitlab", gitlab(gitlab_payload(iid=0))),
    ("gitea missing repository", "gitea",
     gitea({k: v for k, v in github_payload().items() if k != "repository"})),
    ("bitbucket missing pullrequest", "bitbucket", bitbucket({"repository": {"full_name": "w/r"}})),
    ("bitbucket branch a number", "bitbucket", bitbucket(bitbucket_payload(source=""))),
    ("azure eventType a number", "azuredevops", azure({"eventType": 1})),
    ("azure no resource", "azuredevops", azure({"eventType": "git.pullrequest.merged"})),
    ("azure repository without url", "azuredevops", azure({**azure_payload(), "resource": {
        **azure_payload()["resource"],  # type: ignore[dict-item]
        "repository": {"name": "fleet", "project": {"name": "p"}}}})),
    ("azure unparseable urls", "azuredevops",
     azure(azure_payload(remote_url="https://[::1/x", api_url="http://[x"))),
    ("azure urls without organisation", "azuredevops",
     azure(azure_payload(remote_url="https://dev.azure.com", api_url="https://example.com/x"))),
]  # fmt: skip


@pytest.mark.parametrize(
    ("provider", "delivery"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_a_verified_body_that_is_not_a_pull_request_event_is_malformed(
    provider: str, delivery: Delivery
) -> None:
    verdict, reason = check(provider, delivery)
    assert verdict is Verdict.MALFORMED, reason
    assert "\n" not in reason


@pytest.mark.parametrize("levels", [33, 100_000])
def test_nesting_past_the_limit_is_refused_before_parsing(levels: int) -> None:
    body = deep(levels) if levels < 1000 else b"[" * levels + b"]" * levels
    headers = github({})[0] | {"X-Hub-Signature-256": "sha256=" + sign(body)}
    verdict, reason = check("github", (headers, body))
    assert verdict is Verdict.MALFORMED and "deeper than 32" in reason


def test_depth_just_within_the_limit_is_parsed() -> None:
    headers = github({})[0] | {"X-Hub-Signature-256": "sha256=" + sign(deep(32))}
    verdict, reason = check("github", (headers, deep(32)))
    assert verdict is Verdict.MALFORMED and "action" in reason  # parsed, then a field is missing


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    payload = github_payload("edited", changes={"body": {"from": "[" * 500 + '\\"{' * 100}})
    assert event_of("github", github(payload)).body_edited


def test_the_signature_is_checked_before_the_body_is_parsed() -> None:
    headers = github({})[0] | {"X-Hub-Signature-256": "sha256=" + "0" * 64}
    assert check("github", (headers, b"[" * 100_000))[0] is Verdict.UNAUTHORIZED


def test_every_provider_has_a_rule() -> None:
    deliveries = {"github": GH, "gitlab": GL, "gitea": GT, "forgejo": FJ, "bitbucket": BB,
                  "azuredevops": AZ}  # fmt: skip
    assert set(deliveries) == set(PROVIDERS)
    for provider, delivery in deliveries.items():
        assert check(provider, delivery)[0] is Verdict.ACCEPTED, provider


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    provider=st.sampled_from(PROVIDERS),
    body=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())),
)
def test_any_body_correctly_signed_never_raises(provider: str, body: bytes) -> None:
    headers = {
        "X-Hub-Signature-256": f"sha256={sign(body)}", "X-GitHub-Event": "pull_request",
        "X-Gitlab-Token": SECRET, "X-Gitlab-Event": "Merge Request Hook",
        "X-Gitea-Signature": sign(body), "X-Gitea-Event": "pull_request",
        "X-Forgejo-Signature": sign(body), "X-Forgejo-Event": "pull_request",
        "X-Hub-Signature": f"sha256={sign(body)}", "X-Event-Key": "pullrequest:fulfilled",
        "Authorization": azure({})[0]["Authorization"],
    }  # fmt: skip
    result = verify_forge_event(provider, secret=SECRET, headers=CIMultiDict(headers), body=body)
    assert result.verdict in (Verdict.MALFORMED, Verdict.IGNORED, Verdict.ACCEPTED)


FIELDS = [("action",), ("number",), ("pull_request",), ("pull_request", "merged"),
          ("pull_request", "head"), ("repository", "full_name"), ("changes",)]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from(FIELDS), value=json_values)
def test_any_value_in_any_field_never_raises(field: tuple[str, ...], value: object) -> None:
    payload = with_field(field, value)
    verdict, _ = check("github", github(payload))
    assert verdict in (Verdict.MALFORMED, Verdict.IGNORED, Verdict.ACCEPTED)


def test_a_re_serialised_body_breaks_the_signature() -> None:
    # The body bytes are signed, not the parsed object: re-serialising breaks the proof.
    headers, body = github(github_payload())
    respaced = dump(json.loads(body)).replace(b", ", b",")
    assert check("github", (headers, respaced))[0] is Verdict.UNAUTHORIZED
