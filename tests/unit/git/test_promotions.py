"""A promotion pull request's text: what it says, what hostile values cannot do to it, and how
it fits each forge's limit (pure: values in, text out)."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.git.promotions import (
    ChainLink,
    GateLine,
    MovingImage,
    PromotionContent,
    proposed_at,
    render_promotion,
    safe_link,
    shown_url,
)
from image_automation.git.pull_requests import BODY_LIMITS, owned_by, read_checkboxes

D = "sha256:" + "5e" * 32
WEB = MovingImage(
    image="ghcr.io/acme/web", policy="apps/web", old="1.0.0", new="1.1.0", digest=D,
    since="2026-03-02 10:00 UTC", soaked="2h (soak 1h)", where=("clusters/staging/app.yaml:12",),
)  # fmt: skip
CONTENT = PromotionContent(
    promotion="Promotion/apps/web", owner="Promotion/apps/web/staging",
    head="image-automation/promote-web-staging", base="main", source="dev", target="staging",
    images=[WEB],
    gates=[GateLine(name="soak 1h", state="success", detail="dev has had it for 2h"),
           GateLine(name="check e2e", state="success", detail="success on dev's commit 3f1c2e9",
                    url="https://ci.example.com/runs/7")],
    chains={"ghcr.io/acme/web": [
        ChainLink(stage="dev", value="1.1.0", since="2026-03-02 10:00 UTC"),
        ChainLink(stage="staging", value="1.0.0", since="2026-02-20 08:00 UTC"),
    ]},
    held={"apps/api": "soak 1h: dev has had it since 2026-03-02 11:30 UTC"},
    diff="--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n", proposed_at="2026-03-02T12:00:00+00:00",
)  # fmt: skip

EXPECTED = (Path(__file__).parent / "golden" / "promotion-body.md").read_text()


def test_the_body_says_what_moves_from_where_to_where_and_why_now() -> None:
    rendered = render_promotion(CONTENT, provider="github")
    assert rendered.title == "promote(staging): ghcr.io/acme/web 1.1.0 from dev"
    assert rendered.body == EXPECTED
    assert owned_by(rendered.body) == (CONTENT.owner, CONTENT.head)
    assert read_checkboxes(rendered.body).ignore is False


def test_the_proposal_time_is_read_back_only_for_the_same_images() -> None:
    body = render_promotion(CONTENT, provider="github").body
    assert proposed_at(body, [D]) == "2026-03-02T12:00:00+00:00"
    assert proposed_at(body, [D, "sha256:" + "0" * 64]) is None
    assert proposed_at("no stamp here", [D]) is None


def test_hostile_values_stay_inside_code_spans_and_make_no_links() -> None:
    evil = MovingImage(
        image="evil`|<img src=x onerror=alert(1)>", policy="apps/web", old="1|0", new="`x`",
        digest=D, since="now\n# heading", soaked="2h", where=("a|b.yaml:1",),
    )  # fmt: skip
    gates = [GateLine(name="c`i", state="failure", detail="x\n## injected",
                      url="javascript:alert(1)"),
             GateLine(name="ci", state="success",
                      url="https://ci.example.com/x)(y[z]")]  # fmt: skip
    content = PromotionContent(
        promotion="Promotion/apps/web", owner="o", head="h", base="main", source="dev",
        target="staging", images=[evil], gates=gates, diff="```\n<!-- image-automation: x -->\n",
    )  # fmt: skip
    body = render_promotion(content, provider="github").body
    assert "``evil`\\|<img src=x onerror=alert(1)>``" in body  # only inside a code span
    assert body.count("<img") == 1
    assert "javascript:" not in body and "\n## injected" not in body and "\n# heading" not in body
    assert "(https://ci.example.com/x%29%28y%5Bz%5D)" in body
    assert "````diff" in body  # a fence longer than any run of backticks in the diff
    assert owned_by(body) == ("o", "h")  # the diff's fake marker does not win


@pytest.mark.parametrize("provider", sorted(BODY_LIMITS))
def test_a_huge_promotion_fits_each_forges_limit_and_keeps_its_footer(provider: str) -> None:
    images = [
        MovingImage(image=f"registry.example.com/team/service-{i}", policy=f"apps/s{i}",
                    old="1.0.0", new="1.1.0", digest=D, since="2026-03-02 10:00 UTC",
                    soaked="2h (soak 1h)",
                    where=tuple(f"clusters/s{i}/f{j}.yaml:9" for j in range(8)))
        for i in range(300)
    ]  # fmt: skip
    content = PromotionContent(
        promotion="Promotion/apps/all", owner="Promotion/apps/all/prod", head="h", base="main",
        source="staging", target="prod", images=images, diff="+x\n" * 100_000,
        gates=[GateLine(name="check e2e", state="success", detail="y" * 300)] * 5,
        proposed_at="2026-03-02T12:00:00+00:00",
    )  # fmt: skip
    body = render_promotion(content, provider=provider).body
    size = len(body.encode("utf-16-le")) // 2 if provider == "azuredevops" else len(body)
    assert size <= BODY_LIMITS[provider]
    assert owned_by(body) == ("Promotion/apps/all/prod", "h")
    assert proposed_at(body, [D]) == "2026-03-02T12:00:00+00:00"
    assert "| image |" in body


def test_a_long_title_is_cut_with_an_ellipsis() -> None:
    long = MovingImage(image="r.example.com/" + "x" * 400, policy="p", old="1", new="2",
                       digest=D, since="", soaked="")  # fmt: skip
    content = PromotionContent(promotion="P", owner="o", head="h", base="main", source="dev",
                               target="prod", images=[long])  # fmt: skip
    title = render_promotion(content, provider="github").title
    assert len(title) <= 240 and title.endswith("…")


LINKS = [
    ("https://ci.example.com/run/1?x=2#y", "https://ci.example.com/run/1?x=2#y"),
    ("http://127.0.0.1:8080/a", "http://127.0.0.1:8080/a"),
    ("https://user:pw@ci.example.com/", ""),
    ("javascript:alert(1)", ""),
    ("https://ci.example.com/a b", ""),
    ("https://ci.example.com/" + "a" * 3000, ""),
    ("", ""),
]


@pytest.mark.parametrize(("url", "expected"), LINKS)
def test_only_plain_http_urls_become_links(url: str, expected: str) -> None:
    assert safe_link(url) == expected


def test_an_http_gate_url_is_shown_without_its_query_or_credentials() -> None:
    url = "https://health.example.com:8443/env/dev?token=Secr3t-in-query#frag"
    assert shown_url(url) == "https://health.example.com:8443/env/dev"
