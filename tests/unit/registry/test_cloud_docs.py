"""docs/registries.md: each cloud section's ImageRepository loads, and auto picks its API."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.config.loading import load_bytes
from image_automation.config.models import ImageRepository
from image_automation.domain import ImageRef
from image_automation.registry import RegistrySettings

DOC = Path(__file__).resolve().parents[3] / "docs" / "registries.md"


@pytest.mark.parametrize(
    ("heading", "api"),
    [
        ("### ECR: push times and events", "ecr"),
        ("### Artifact Registry: push times and events", "artifactregistry"),
        ("### ACR: push times and events", "acr"),
        ("### GHCR: push times and events", "ghcr"),
        ("### GitLab: push times and events", "gitlab"),
    ],
)
def test_each_cloud_sections_image_repository_gets_its_vendors_push_time_api(
    heading: str, api: str
) -> None:
    section = DOC.read_text().split(heading, 1)[1].split("\n## ", 1)[0]
    blocks = [b.split("```", 1)[0] for b in section.split("```yaml\n")[1:]]
    [block] = [b for b in blocks if "kind: ImageRepository" in b]
    [doc] = load_bytes(block.encode(), file="registries.md").repositories
    assert isinstance(doc.obj, ImageRepository)
    ref = ImageRef.parse(doc.obj.spec.image)
    settings = RegistrySettings().for_host(ref.registry)
    assert settings.push_time_api_for(ref.registry) == api
