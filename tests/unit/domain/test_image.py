"""Image reference parsing and normalisation (docker/Flux rules)."""

import pytest

from image_automation.domain import ImageRef, InvalidReference, invalid_tags, is_valid_tag

PARSE_CASES = [
    ("nginx", "docker.io", "library/nginx", None, None),
    ("nginx:1.25", "docker.io", "library/nginx", "1.25", None),
    ("docker.io/nginx", "docker.io", "library/nginx", None, None),
    ("index.docker.io/library/nginx", "docker.io", "library/nginx", None, None),
    ("bitnami/redis:7", "docker.io", "bitnami/redis", "7", None),
    ("ghcr.io/fluxcd/flux-cli:v2.3.0", "ghcr.io", "fluxcd/flux-cli", "v2.3.0", None),
    ("localhost:5000/app", "localhost:5000", "app", None, None),
    ("127.0.0.1:5000/team/app:1.0.0", "127.0.0.1:5000", "team/app", "1.0.0", None),
    ("localhost/app", "localhost", "app", None, None),
    (
        "quay.io/a/b@sha256:" + "a" * 64,
        "quay.io",
        "a/b",
        None,
        "sha256:" + "a" * 64,
    ),
    (
        "quay.io/a/b:1@sha256:" + "b" * 64,
        "quay.io",
        "a/b",
        "1",
        "sha256:" + "b" * 64,
    ),
]


@pytest.mark.parametrize(("text", "registry", "repository", "tag", "digest"), PARSE_CASES)
def test_references_normalise_like_docker(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    ref = ImageRef.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        registry,
        repository,
        tag,
        digest,
    )


def test_docker_hub_is_served_from_registry_1() -> None:
    assert ImageRef.parse("nginx").api_host == "registry-1.docker.io"
    assert ImageRef.parse("ghcr.io/a/b").api_host == "ghcr.io"


def test_str_round_trips_normalised_form() -> None:
    assert str(ImageRef.parse("nginx:1")) == "docker.io/library/nginx:1"


@pytest.mark.parametrize(
    "text",
    ["", "UPPER/case", "nginx:", "nginx:-bad", "a//b", "nginx@sha256:", "host.io/"],
)
def test_invalid_references_are_rejected_with_a_reason(text: str) -> None:
    with pytest.raises(InvalidReference):
        ImageRef.parse(text)


@pytest.mark.parametrize(
    ("tag", "valid"),
    [
        ("1.0.0", True),
        ("_x", True),
        ("v1.2.3-rc.1", True),
        ("a" * 128, True),
        ("a" * 129, False),
        (".hidden", False),
        ("-x", False),
        ("with space", False),
        ("sig+plus", False),
    ],
)
def test_tag_grammar_is_the_oci_one(tag: str, valid: bool) -> None:
    assert is_valid_tag(tag) is valid


INVALID_TAG_CASES = [
    ([], []),
    (["1.0.0", "latest", "_x", "A" * 128], []),
    (["1.0.0", "a;b", "2"], ["a;b"]),
    (["a\nb"], ["a\nb"]),  # one tag holding a newline is not two valid tags
    (["ok", "", "-x", ".x", "x" * 129], ["", "-x", ".x", "x" * 129]),
    (["ünï"], ["ünï"]),
]


@pytest.mark.parametrize(("tags", "invalid"), INVALID_TAG_CASES)
def test_invalid_tags_lists_every_tag_off_the_oci_grammar(
    tags: list[str], invalid: list[str]
) -> None:
    assert invalid_tags(tags) == invalid
    assert invalid == [t for t in tags if not is_valid_tag(t)]
