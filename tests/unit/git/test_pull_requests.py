"""Pull-request titles and bodies rendered from a change set (pure), and what we read back."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from image_automation.domain import Change, Decision, UpdateResult
from image_automation.errors import ConfigError
from image_automation.git._markdown import code, md
from image_automation.git._pr_data import shape
from image_automation.git.pull_requests import (
    BODY_LIMITS,
    IGNORE_BOX,
    REBASE_BOX,
    TITLE_LIMIT,
    Checkboxes,
    ImageProvenance,
    PullRequestContent,
    PullRequestTemplateError,
    owned_by,
    read_checkboxes,
    render_pull_request,
)


def change(file: str, line: int, setter: str, old: str, new: str, name: str = "web") -> Change:
    return Change(file, line, "apps/v1", "Deployment", "prod", name, setter, old, new)


WEB = change(
    "apps/web.yaml", 12, "flux-system:web", "ghcr.io/acme/web:1.0.0", "ghcr.io/acme/web:1.1.0"
)
WEB_JOB = Change(
    "base/web-job.yaml",
    3,
    "batch/v1",
    "CronJob",
    "",
    "nightly",
    "flux-system:web",
    "ghcr.io/acme/web:1.0.0",
    "ghcr.io/acme/web:1.1.0",
)
API = change("apps/api.yaml", 20, "flux-system:api:tag", "2.0.0", "2.1.0", name="api")
CACHE = change("apps/cache.yaml", 8, "flux-system:cache", "redis:7.0", "redis:7.2", name="cache")
WEB_DECISION = Decision(
    policy="web",
    tag="1.1.0",
    considered=("1.0.0", "1.1.0", "1.2.0-rc.1"),
    skipped={"latest": "not a semantic version", "1.2.0-rc.1": "prerelease"},
    lost={"1.0.0": "older than 1.1.0"},
    digest="sha256:" + "a" * 64,
)
API_DECISION = Decision(
    policy="api",
    tag="2.1.0",
    lost={"2.0.0": "pinned at 2.1.0", "2.2.0": "pinned at 2.1.0"},
    reasons=("pinned at 2.1.0",),
)
WEB_SOURCE = ImageProvenance(
    source="https://github.com/acme/web", old_revision="1111111", new_revision="2222222"
)


def content(*changes: Change, **overrides: object) -> PullRequestContent:
    base = PullRequestContent(
        automation="flux-system/apps",
        head="image-automation/apps",
        base="main",
        result=UpdateResult(changes=changes),
        decisions={"flux-system/web": WEB_DECISION, "flux-system/api": API_DECISION},
        images={"ghcr.io/acme/web:1.1.0": WEB_SOURCE},
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


FOOTER = """
---

To stay on a version, set `pin` in its image policy. To skip this version, tick *Ignore* \
below or close this pull request without merging: it is not proposed again, and a newer \
version opens a new pull request.

- [ ] <!-- ia:rebase --> Rebase this PR now
- [ ] <!-- ia:ignore --> Ignore this version (close and never propose it again)

<!-- image-automation: automation=flux-system/apps head=image-automation/apps -->
"""

WEB_WHY = """\
- `flux-system/web`: selected `1.1.0`
  - skipped `1.2.0-rc.1`: prerelease
  - skipped `latest`: not a semantic version
  - 1 other tag ranked lower: older than 1.1.0
"""

WEB_ROW = (
    "| `ghcr.io/acme/web` | `1.0.0` → `1.1.0` "
    "([compare](https://github.com/acme/web/compare/1111111...2222222)) "
    "| `sha256:aaaaaaaaaaaa` |"
)

GOLDEN = [
    pytest.param(
        content(WEB),
        "chore(images): update ghcr.io/acme/web to 1.1.0",
        f"""\
Automation `flux-system/apps` updates 1 image in 1 file on `main`.

| image | old → new | digest | where |
| --- | --- | --- | --- |
{WEB_ROW} `apps/web.yaml:12` |

### Why this version

{WEB_WHY}{FOOTER}""",
        id="one change",
    ),
    pytest.param(
        content(WEB, API, CACHE, selected={"flux-system/api": "ghcr.io/acme/api:2.1.0"}),
        "chore(images): update 3 images",
        f"""\
Automation `flux-system/apps` updates 3 images in 3 files on `main`.

| image | old → new | digest | where |
| --- | --- | --- | --- |
| `ghcr.io/acme/api` | `2.0.0` → `2.1.0` |  | `apps/api.yaml:20` |
| `redis` | `7.0` → `7.2` |  | `apps/cache.yaml:8` |
{WEB_ROW} `apps/web.yaml:12` |

### Why this version

- `flux-system/api`: selected `2.1.0`; pinned at 2.1.0
  - 2 other tags ranked lower: pinned at 2.1.0
{WEB_WHY}{FOOTER}""",
        id="several images",
    ),
    pytest.param(
        content(WEB_JOB, WEB),
        "chore(images): update ghcr.io/acme/web to 1.1.0",
        f"""\
Automation `flux-system/apps` updates 1 image in 2 files on `main`.

| image | old → new | digest | where |
| --- | --- | --- | --- |
{WEB_ROW} `apps/web.yaml:12`, `base/web-job.yaml:3` |

### Why this version

{WEB_WHY}{FOOTER}""",
        id="same image in several files",
    ),
    pytest.param(
        content(CACHE, decisions={}, images={}),
        "chore(images): update redis to 7.2",
        f"""\
Automation `flux-system/apps` updates 1 image in 1 file on `main`.

| image | old → new | digest | where |
| --- | --- | --- | --- |
| `redis` | `7.0` → `7.2` |  | `apps/cache.yaml:8` |
{FOOTER}""",
        id="no provenance no decision",
    ),
]


@pytest.mark.parametrize(("given", "title", "body"), GOLDEN)
def test_default_title_and_body(given: PullRequestContent, title: str, body: str) -> None:
    rendered = render_pull_request(given, provider="github")
    assert rendered.title == title
    assert rendered.body == body


@pytest.mark.parametrize(
    ("changes", "title"),
    [
        ((API,), "chore(images): update flux-system/api to 2.1.0"),  # tag setter, image unknown
        (
            (
                WEB,
                change(
                    "b.yaml",
                    1,
                    "flux-system:web2",
                    "ghcr.io/acme/web:1.0.0",
                    "ghcr.io/acme/web:2.0.0",
                ),
            ),
            "chore(images): update ghcr.io/acme/web to 1.1.0, 2.0.0",
        ),
        ((WEB, CACHE), "chore(images): update 2 images"),
    ],
)
def test_default_title_counts_images_not_changes(changes: tuple[Change, ...], title: str) -> None:
    assert render_pull_request(content(*changes), provider="github").title == title


def test_tag_setter_shows_the_selected_image_and_finds_its_provenance() -> None:
    source = ImageProvenance(
        source="https://gitlab.com/g/api", old_revision="v2.0.0", new_revision="v2.1.0"
    )
    given = content(
        API,
        selected={"flux-system/api": "ghcr.io/acme/api:2.1.0@sha256:" + "b" * 64},
        images={"ghcr.io/acme/api:2.1.0": source},
    )
    row = _rows(render_pull_request(given, provider="github").body)[0]
    assert row == (
        "| `ghcr.io/acme/api` | `2.0.0` → `2.1.0` "
        "([compare](https://gitlab.com/g/api/-/compare/v2.0.0...v2.1.0)) "
        "| `sha256:bbbbbbbbbbbb` | `apps/api.yaml:20` |"
    )


def test_a_moved_digest_under_the_same_tag_shows_both_digests() -> None:
    old, new = (
        "ghcr.io/acme/web:latest@sha256:" + "1" * 64,
        "ghcr.io/acme/web:latest@sha256:" + "2" * 64,
    )
    body = render_pull_request(
        content(change("a.yaml", 1, "ns:web", old, new)), provider="github"
    ).body
    assert "`latest@sha256:111111111111` → `latest@sha256:222222222222`" in body


@pytest.mark.parametrize(
    ("source", "old", "new", "link"),
    [
        (
            "https://github.com/acme/web",
            "abc1234",
            "def5678",
            "https://github.com/acme/web/compare/abc1234...def5678",
        ),
        (
            "https://github.com/acme/web.git",
            "v1",
            "v2",
            "https://github.com/acme/web/compare/v1...v2",
        ),
        (
            "git+https://github.com/acme/web.git",
            "v1",
            "v2",
            "https://github.com/acme/web/compare/v1...v2",
        ),
        (
            "https://github.com/acme/web/tree/main/app",
            "v1",
            "v2",
            "https://github.com/acme/web/compare/v1...v2",
        ),
        ("https://ghe.example.com/acme/web", "v1", "v2", None),
        (
            "https://github.example.com/acme/web",
            "v1",
            "v2",
            "https://github.example.com/acme/web/compare/v1...v2",
        ),
        (
            "https://gitlab.com/g/sub/web",
            "v1",
            "v2",
            "https://gitlab.com/g/sub/web/-/compare/v1...v2",
        ),
        (
            "https://gitlab.com/g/web/-/tree/main",
            "v1",
            "v2",
            "https://gitlab.com/g/web/-/compare/v1...v2",
        ),
        (
            "https://gitlab.example.com:8443/g/web",
            "v1",
            "v2",
            "https://gitlab.example.com:8443/g/web/-/compare/v1...v2",
        ),
        ("https://gitea.com/o/web", "v1", "v2", "https://gitea.com/o/web/compare/v1...v2"),
        (
            "https://codeberg.org/o/web.git",
            "v1",
            "v2",
            "https://codeberg.org/o/web/compare/v1...v2",
        ),
        (
            "https://forgejo.example.org/o/web",
            "v1",
            "v2",
            "https://forgejo.example.org/o/web/compare/v1...v2",
        ),
        (
            "http://gitea.internal.lan/o/web",
            "v1",
            "v2",
            "http://gitea.internal.lan/o/web/compare/v1...v2",
        ),
        (
            "https://bitbucket.org/ws/web",
            "aaa",
            "bbb",
            "https://bitbucket.org/ws/web/branches/compare/bbb%0Daaa",
        ),
        ("https://example.com/o/web", "v1", "v2", None),  # a host we do not know
        ("https://github.com/acme", "v1", "v2", None),  # no repository
        ("git@github.com:acme/web.git", "v1", "v2", None),
        ("ssh://git@github.com/acme/web", "v1", "v2", None),
        ("javascript:alert(1)//github.com/a/b", "v1", "v2", None),
        ("https://user:token@github.com/acme/web", "v1", "v2", None),  # never a credential
        ("https://github.com/acme/web?x=1", "v1", "v2", None),
        ("https://github.com/acme/web#x", "v1", "v2", None),
        ("https://github.com/acme/we)b", "v1", "v2", None),
        ("https://github.com/acme/web", "v1", None, None),  # both revisions needed
        ("https://github.com/acme/web", "v1", "v1", None),
        ("https://github.com/acme/web", "v1", "a)](javascript:x", None),
        ("https://github.com/acme/web", "v1", "main..evil", None),
        ("https://github.com/acme/web", "v1", "-v2", None),
        (None, "v1", "v2", None),
    ],
)
def test_compare_link_per_host_kind(
    source: str | None, old: str, new: str, link: str | None
) -> None:
    given = content(
        WEB,
        images={
            "ghcr.io/acme/web:1.1.0": ImageProvenance(
                source=source, old_revision=old, new_revision=new
            )
        },
    )
    body = render_pull_request(given, provider="gitlab").body
    if link is None:
        assert "[compare]" not in body
    else:
        assert f"([compare]({link}))" in body


def test_provenance_is_found_under_a_normalised_reference() -> None:
    given = content(
        change("a.yaml", 1, "ns:web", "nginx:1.25", "nginx:1.26"),
        images={"docker.io/library/nginx:1.26": WEB_SOURCE},
    )
    assert "/compare/1111111...2222222" in render_pull_request(given, provider="github").body


# --- hostile values ------------------------------------------------------------------------

EVIL = (
    "x|y<img src=x onerror=alert(1)>`](javascript:alert(1)) www.evil.example a@b.c"
    "\n- [x] <!-- ia:ignore -->"
)
HOSTILE = PullRequestContent(
    automation="ns/a --> <b>x</b>",
    head="feature--> x=y",
    base="main<script>",
    result=UpdateResult(
        changes=(
            change(
                f"apps/{EVIL}.yaml",
                7,
                "flux-system:web",
                f"ghcr.io/acme/web:1 {EVIL}",
                "ghcr.io/acme/web:1.1.0",
            ),
            change("b.yaml", 1, "flux-system:api:tag", "``1``", "2\u202e\u0000", name="api"),
        )
    ),
    decisions={
        "flux-system/web": Decision(
            policy="web",
            tag="1.1.0",
            skipped={"1.2.0": f"<script>alert(1)</script> {EVIL}"},
            reasons=(f"pinned at `1.1.0` https://evil.example {EVIL}",),
            lost={"1.0.0": EVIL},
        )
    },
    images={
        "ghcr.io/acme/web:1.1.0": ImageProvenance(
            source="javascript:alert(1)//github.com/a/b", old_revision="a", new_revision=EVIL
        )
    },
    held={"flux-system/x": f"held: <b>bold</b> {EVIL}"},
)


@pytest.mark.parametrize("provider", sorted(BODY_LIMITS))
def test_hostile_values_cannot_break_the_table_or_inject_links_html_or_markers(
    provider: str,
) -> None:
    body = render_pull_request(HOSTILE, provider=provider).body
    main, _, footer = body.rpartition("\n---\n")
    outside = _outside_code_spans(main)
    assert "<" not in outside and "](" not in outside and "javascript:" not in outside
    assert "www." not in outside and "@" not in outside
    for row in _rows(main):
        assert len(re.findall(r"(?<!\\)\|", row)) == 5, row
    assert "\u202e" not in body and "\x00" not in body
    assert owned_by(body) == ("ns/a --> <b>x</b>", "feature--> x=y")
    assert read_checkboxes(body) == Checkboxes(rebase=False, ignore=False)
    assert footer.count("<!--") == 3  # two checkboxes and the marker, nothing injected


def test_hostile_title_is_one_clean_line() -> None:
    given = replace(
        HOSTILE, result=UpdateResult(changes=(change("a", 1, "ns:web", "r:1", "r:1\n2\u202e\x07"),))
    )
    title = render_pull_request(given, provider="github").title
    assert "\n" not in title and "\u202e" not in title and "\x07" not in title


# --- size limits ---------------------------------------------------------------------------


def _many(
    count: int, *, file_length: int = 60, skipped: int = 0, tag_length: int = 0
) -> PullRequestContent:
    changes = tuple(
        change(
            f"apps/{i:05d}/{'f' * file_length}.yaml",
            3,
            f"ns:p{i}",
            f"ghcr.io/acme/img{i}:1.0.0",
            f"ghcr.io/acme/img{i}:1.1.0",
            name=f"w{i}",
        )
        for i in range(count)
    )
    decisions = {
        f"ns/p{i}": Decision(
            policy=f"p{i}",
            tag="1.1.0",
            skipped={f"2.{j}.0-rc.{'1' * tag_length}": "prerelease" for j in range(skipped)},
            lost={f"0.{j}.0": "older than 1.1.0" for j in range(100)},
        )
        for i in range(count)
    }
    return content(*changes, decisions=decisions, images={}, held={"ns/held": "held back by hand"})


def _measure(provider: str, text: str) -> int:
    return len(text.encode("utf-16-le")) // 2 if provider == "azuredevops" else len(text)


@pytest.mark.parametrize("provider", sorted(BODY_LIMITS))
def test_body_fits_each_provider_and_keeps_rows_checkboxes_and_marker(provider: str) -> None:
    limit = BODY_LIMITS[provider]
    given = _many(max(limit // 150, 40), file_length=100)
    body = render_pull_request(given, provider=provider).body
    assert _measure(provider, body) <= limit
    marker = "<!-- image-automation: automation=flux-system/apps head=image-automation/apps -->"
    assert body.endswith(f"{REBASE_BOX}\n{IGNORE_BOX}\n\n{marker}\n")
    assert owned_by(body) == ("flux-system/apps", "image-automation/apps")
    rows = _rows(body)
    shown = [row for row in rows if row.startswith("| `ghcr.io")]
    more = [row for row in rows if row.startswith("| … ")]
    assert more == [f"| … {len(given.result.changes) - len(shown)} more changes | | | |"]
    assert all(row.endswith(".yaml:3` |") for row in shown)  # whole rows, never cut
    assert "### Why this version" not in body and "### Held back" not in body
    assert f"character limit of {provider}; " in body


@pytest.mark.parametrize("provider", sorted(BODY_LIMITS))
def test_body_that_fits_is_not_shortened(provider: str) -> None:
    body = render_pull_request(_many(3), provider=provider).body
    assert "Shortened" not in body and "more change" not in body
    assert body.count("  - skipped") == 0 and "### Held back" in body


def test_skipped_tags_go_first_then_decisions_then_rows() -> None:
    # six rows with long skipped tags: dropping the skipped lines is enough for Azure
    body = render_pull_request(_many(6, skipped=200, tag_length=80), provider="azuredevops").body
    assert "  - skipped `" not in body and "  - 200 tags skipped" in body
    assert "### Why this version" in body and len(_rows(body)) == 6
    # twenty rows: the decisions go, every row stays
    body = render_pull_request(_many(20, skipped=200, file_length=20), provider="azuredevops").body
    assert "### Why this version" not in body and "; 21 decisions left out" in body
    assert len(_rows(body)) == 20 and "more change" not in body


def test_skipped_tags_are_capped_with_a_count_and_considered_ones_first() -> None:
    decision = Decision(
        policy="web",
        tag="1.1.0",
        considered=("1.1.0", "1.9.0", "1.8.0"),
        skipped={f"sha-{i}": "does not match" for i in range(10)}
        | {"1.9.0": "younger than minAge 1d", "1.8.0": "prerelease"},
    )
    body = render_pull_request(
        content(WEB, decisions={"flux-system/web": decision}), provider="github"
    ).body
    lines = [line for line in body.splitlines() if line.startswith("  - ")]
    assert lines == [
        "  - skipped `1.9.0`: younger than minAge 1d",
        "  - skipped `1.8.0`: prerelease",
        "  - skipped `sha-0`: does not match",
        "  - skipped `sha-1`: does not match",
        "  - skipped `sha-2`: does not match",
        "  - … and 7 more skipped",
    ]


def test_azure_limit_counts_utf16_units() -> None:
    given = _many(60, file_length=40)
    astral = replace(
        given,
        result=UpdateResult(
            changes=tuple(replace(c, file=c.file.replace("f", "😀")) for c in given.result.changes)
        ),
    )
    body = render_pull_request(astral, provider="azuredevops").body
    assert len(body.encode("utf-16-le")) // 2 <= 4000 < len(body) * 2
    assert owned_by(body) == ("flux-system/apps", "image-automation/apps")


@pytest.mark.parametrize(
    "template",
    [
        "{% for i in range(100000) %}static text that cannot shrink\n{% endfor %}",
        "<!-- an open comment\n{% for i in range(100000) %}text\n{% endfor %}",
        "```\n{% for i in range(100000) %}an open fence\n{% endfor %}",
        "{{ ('x' * 900000) | safe }}",  # one line: cut inside it
    ],
)
@pytest.mark.parametrize("provider", ["azuredevops", "github"])
def test_a_body_that_cannot_shrink_is_cut_at_a_line_and_keeps_the_footer(
    template: str, provider: str
) -> None:
    body = render_pull_request(content(WEB), body_template=template, provider=provider).body
    main = body.rpartition("\n---\n")[0].rstrip()
    assert _measure(provider, body) <= BODY_LIMITS[provider]
    assert main.endswith("… (shortened to fit the forge's limit)")
    assert main.rfind("<!--") < main.rfind("-->") or "<!--" not in main
    assert main.count("```") % 2 == 0
    assert owned_by(body) is not None and REBASE_BOX in body


def test_no_checkboxes_still_marks_the_body() -> None:
    body = render_pull_request(content(WEB, checkboxes=False), provider="github").body
    assert "- [ ]" not in body and "tick" not in body
    assert owned_by(body) == ("flux-system/apps", "image-automation/apps")


def test_held_policies_are_listed() -> None:
    body = render_pull_request(
        content(WEB, held={"flux-system/db": "held: waiting for review"}), provider="github"
    ).body
    assert "### Held back\n\n- `flux-system/db`: `held: waiting for review`\n" in body


def test_unknown_provider_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown forge provider 'gitbucket'"):
        render_pull_request(content(WEB), provider="gitbucket")


# --- reading back --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (f"{REBASE_BOX}\n{IGNORE_BOX}\n", (False, False)),
        ("- [x] <!-- ia:rebase --> Rebase this PR now\n" + IGNORE_BOX, (True, False)),
        ("- [X] <!-- ia:ignore --> Ignore", (False, True)),
        ("- [x] <!-- ia:rebase --> a\r\n- [x] <!-- ia:ignore --> b\r\n", (True, True)),
        ("text\r- [x] <!-- ia:ignore --> b\r", (False, True)),  # bare CR line breaks
        ("  *   [x]   <!--   ia:rebase   -->  Rebase", (True, False)),
        ("1. [x] <!-- ia:rebase -->", (True, False)),
        ("-\u00a0[x]\u00a0<!-- ia:rebase -->", (True, False)),  # non-breaking spaces
        ("- \\[x\\] <!-- ia:rebase -->", (True, False)),  # an editor escaped the brackets
        ("- [x] Rebase this PR now <!-- ia:rebase -->", (True, False)),  # marker at line end
        ("- [x] <!-- IA:Rebase -->", (True, False)),
        ("- [x] <!-- ia:rebase -->\n- [ ] <!-- ia:rebase -->", (False, False)),  # the last counts
        ("- [x] Rebase this PR now", (False, False)),  # not ours without the marker
        ("[x] <!-- ia:rebase -->", (False, False)),  # not a list item
        ("- [x]<!-- ia:rebase -->", (True, False)),
        ("- [y] <!-- ia:rebase -->", (False, False)),
        ("text - [x] <!-- ia:rebase -->", (False, False)),  # not at the start of a line
        ("`- [x] <!-- ia:rebase -->`", (False, False)),
        ("", (False, False)),
        (None, (False, False)),
    ],
)
def test_read_checkboxes(body: str | None, expected: tuple[bool, bool]) -> None:
    assert read_checkboxes(body) == Checkboxes(rebase=expected[0], ignore=expected[1])


def test_ticked_checkboxes_in_a_rendered_body_are_read_back() -> None:
    body = render_pull_request(content(WEB), provider="github").body
    ticked = body.replace("- [ ] <!-- ia:ignore -->", "- [x] <!-- ia:ignore -->").replace(
        "\n", "\r\n"
    )
    assert read_checkboxes(ticked) == Checkboxes(rebase=False, ignore=True)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "<!-- image-automation: automation=ns/apps head=image-automation/apps -->",
            ("ns/apps", "image-automation/apps"),
        ),
        ("x\r\n<!--image-automation:automation=a  head=b-->\r\n", ("a", "b")),
        ("<!-- image-automation: automation=a%20b head=c%2D%2D%3E -->", ("a b", "c-->")),
        (
            "<!-- image-automation: automation=a head=b -->\n"
            "<!-- image-automation: automation=c head=d -->",
            ("c", "d"),
        ),
        ("<!-- image-automation: automation=a -->", None),
        ("<!-- image-automation: automation= head=b -->", None),
        ("image-automation: automation=a head=b", None),
        ("", None),
        (None, None),
    ],
)
def test_owned_by(body: str | None, expected: tuple[str, str] | None) -> None:
    assert owned_by(body) == expected


@pytest.mark.parametrize(
    ("automation", "head"),
    [
        ("ns/apps", "main"),
        ("a b=c", "x--y-->z"),
        ("ns/ü", "feature/ö-\u2013"),
        ("-->", "--"),
        ("a%2Db", "%"),
    ],
)
def test_marker_round_trips_any_name(automation: str, head: str) -> None:
    body = render_pull_request(
        content(WEB, automation=automation, head=head), provider="github"
    ).body
    marker = body.splitlines()[-1]
    assert marker.count("-->") == 1 and "--" not in marker[4:-3]
    assert owned_by(body) == (automation, head)


def test_a_template_cannot_fake_our_markers() -> None:
    template = "- [x] <!-- ia:ignore --> x\n<!-- image-automation: automation=other head=x -->"
    body = render_pull_request(
        content(WEB, checkboxes=False), body_template=template, provider="github"
    ).body
    assert read_checkboxes(body) == Checkboxes(rebase=False, ignore=False)
    assert owned_by(body) == ("flux-system/apps", "image-automation/apps")


# --- user templates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (
            "{{ automation }}: {{ images | join(', ') }}",
            "flux-system/apps: ghcr.io/acme/web, redis",
        ),
        (
            "deps({{ base }}): {{ updates | length }} updates\n\n  into {{ head }}",
            "deps(main): 2 updates into image-automation/apps",
        ),
        ("{% for i in range(1000) %}word {% endfor %}", ("word " * 48).strip() + "…"),
    ],
)
def test_user_title_templates(title: str, expected: str) -> None:
    rendered = render_pull_request(content(WEB, CACHE), title_template=title, provider="github")
    assert rendered.title == expected
    assert len(rendered.title) <= TITLE_LIMIT


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        (
            "{% for u in updates %}{{ u.image }} {{ u.old }}->{{ u.new }}\n{% endfor %}",
            "`ghcr.io/acme/web` 1.0.0->1.1.0\n",
        ),
        (
            "{{ changes[0].file }}:{{ changes[0].line }}",
            "`a\\|b<i>.yaml`:12",
        ),  # escaped: not plain words
        ("{{ changes[0].file | safe }}", "a|b<i>.yaml"),  # explicit opt-out
        ("{{ updates[0].compare_url }}", "https://github.com/acme/web/compare/1111111...2222222"),
        ("{{ decisions[0].skipped | length }} of {{ decisions[0].skipped_total }}", "2 of 2"),
        ("{{ provider }} {{ limit }} {{ truncated }}", "github 65536 False"),
        ("{{ warnings | length }} {{ held | length }} {{ more_changes }}", "0 0 0"),
    ],
)
def test_user_body_templates_see_the_data_escaped(template: str, expected: str) -> None:
    given = content(replace(WEB, file="a|b<i>.yaml"))
    body = render_pull_request(given, body_template=template, provider="github").body
    assert body == expected.rstrip("\n") + "\n" + FOOTER


@pytest.mark.parametrize(
    ("template", "kind", "line", "message"),
    [
        ("line one\n{% for x in %}\n", "body", 2, "Expected an expression"),
        ("ok\nok\n{{ nothing_like_this }}", "body", 3, "'nothing_like_this' is undefined"),
        ("{{ updates[0].no_such_field }}", "body", 1, "no attribute 'no_such_field'"),
        ("{{ ''.__class__.__mro__ }}", "body", 1, "unsafe"),
        ("{{ updates.__class__.__subclasses__() }}", "body", 1, "unsafe"),
        ("{{ cycler.__init__.__globals__ }}", "body", 1, "unsafe"),
        ("{{ 'x' * 10 ** 9 }}", "body", 1, "more than"),
        ("{{ 2 ** 100000 }}", "body", 1, "exponent"),
        ("{{ lipsum(10) }}", "body", 1, "'lipsum' is undefined"),
        ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "body", 1, "RecursionError"),
        ("{{ 1 / 0 }}", "body", 1, "ZeroDivisionError"),
        ("{{ range(10 ** 9) | list }}", "body", 1, "Range too big"),
        ("   \n  ", "title", None, "empty title"),
        ("{{ images[5] }}", "title", 1, "no element 5"),
    ],
)
def test_bad_templates_are_config_errors_with_the_line(
    template: str, kind: str, line: int | None, message: str
) -> None:
    templates = {"title_template": template} if kind == "title" else {"body_template": template}
    with pytest.raises(PullRequestTemplateError) as caught:
        render_pull_request(content(WEB), provider="github", **templates)  # type: ignore[arg-type]
    error = caught.value
    assert isinstance(error, ConfigError)
    assert (error.template, error.line) == (kind, line)
    where = f", line {line}" if line is not None else ""
    assert str(error).startswith(f"pull request {kind} template{where}: ")
    assert message in str(error)


def test_template_variables_are_the_documented_ones() -> None:
    data = shape(content(WEB), provider="github", limit=1)
    assert sorted(data) == sorted(
        [
            "automation",
            "head",
            "base",
            "provider",
            "limit",
            "truncated",
            "changes",
            "updates",
            "more_updates",
            "more_changes",
            "images",
            "files",
            "decisions",
            "more_decisions",
            "held",
            "warnings",
        ]
    )
    assert sorted(data["updates"][0]) == sorted(
        [
            "image",
            "policy",
            "old",
            "new",
            "old_value",
            "new_value",
            "digest",
            "digest_short",
            "source",
            "old_revision",
            "new_revision",
            "compare_url",
            "where",
            "changes",
        ]
    )
    assert sorted(data["decisions"][0]) == sorted(
        [
            "policy",
            "tag",
            "reasons",
            "skipped",
            "skipped_more",
            "skipped_total",
            "lost_total",
            "lost_reason",
        ]
    )


# --- helpers -------------------------------------------------------------------------------

_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")


def _outside_code_spans(text: str) -> str:
    return _CODE_SPAN.sub(" ", text.replace("\\|", " "))


def _rows(body: str) -> list[str]:
    return [
        line
        for line in body.splitlines()
        if line.startswith("| ") and not line.startswith(("| image ", "| ---"))
    ]


@pytest.mark.parametrize(
    ("value", "as_code", "as_md"),
    [
        ("1.2.3", "`1.2.3`", "1.2.3"),
        ("older than 1.1.0", "`older than 1.1.0`", "older than 1.1.0"),
        ("a/b", "`a/b`", "`a/b`"),
        ("a|b", "`a\\|b`", "`a\\|b`"),
        ("x`y", "``x`y``", "``x`y``"),
        ("`x`", "`` `x` ``", "`` `x` ``"),
        ("www.example", "`www.example`", "`www.example`"),
        ("line\nbreak\ttab", "`line break tab`", "`line break tab`"),
        ("rtl\u202eoverride\x00", "`rtl\ufffdoverride\ufffd`", "`rtl\ufffdoverride\ufffd`"),
        ("", "", ""),
        (42, "`42`", "42"),
        ("f" * 300, "`" + "f" * 255 + "…`", "`" + "f" * 255 + "…`"),
    ],
)
def test_markdown_escaping(value: object, as_code: str, as_md: str) -> None:
    assert (code(value), md(value)) == (as_code, as_md)


def test_an_empty_body_template_leaves_the_footer_alone() -> None:
    body = render_pull_request(content(WEB), body_template="{# nothing #}", provider="github").body
    assert body == FOOTER.lstrip("\n")
