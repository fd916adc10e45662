"""Policy documents → scan targets: one per repository, metadata only where a policy needs it."""

from __future__ import annotations

from image_automation.config.loading import LoadResult, load_bytes
from image_automation.config.resolving import resolve
from image_automation.engine.targets import Targets
from image_automation.engine.targets import targets_from_config as _targets


def targets_from_config(loaded: LoadResult) -> Targets:
    return _targets(loaded, resolve(loaded).policies)


FLUX = b"""
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: podinfo, namespace: apps}
spec:
  image: ghcr.io/stefanprodan/podinfo
  secretRef: {name: ghcr-creds}
  timeout: 1m
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: podinfo, namespace: apps}
spec:
  imageRepositoryRef: {name: podinfo}
  policy: {semver: {range: ">=6.0.0"}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: web, namespace: apps}
spec:
  image: registry.example.com/team/web
  insecure: true
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: web-digest, namespace: other}
spec:
  imageRepositoryRef: {name: web, namespace: apps}
  policy: {alphabetical: {}}
  digestReflectionPolicy: IfNotPresent
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: paused, namespace: apps}
spec:
  image: quay.io/paused/app
  suspend: true
"""

NATIVE = b"""
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {name: redis, namespace: apps}
spec:
  image: docker.io/bitnami/redis
  select: {semver: {range: ">=7.0.0"}}
---
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {name: redis-edge, namespace: apps}
spec:
  image: bitnami/redis
  scan: {certSecretRef: {name: corp-ca}}
  select: {newestBuild: {}}
---
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {name: nginx, namespace: apps}
spec:
  image: nginx
  select: {semver: {range: "1.x"}}
  minAge: 24h
"""


def test_flux_repositories_become_targets_and_suspended_ones_are_skipped() -> None:
    loaded = load_bytes(FLUX, file="flux.yaml")
    assert loaded.errors == []
    out = targets_from_config(loaded)
    by_name = {t.repository: t for t in out.targets}
    assert sorted(by_name) == ["ghcr.io/stefanprodan/podinfo", "registry.example.com/team/web"]
    podinfo = by_name["ghcr.io/stefanprodan/podinfo"]
    assert (podinfo.secret_ref, podinfo.timeout, podinfo.needs_metadata) == (
        "ghcr-creds",
        60.0,
        False,
    )
    web = by_name["registry.example.com/team/web"]
    # A policy in another namespace reflecting digests makes the repository need metadata.
    assert (web.insecure, web.needs_metadata) == (True, True)
    assert out.problems == []


def test_tracked_images_sharing_a_repository_are_one_target() -> None:
    out = targets_from_config(load_bytes(NATIVE, file="native.yaml"))
    assert [t.repository for t in out.targets] == [
        "docker.io/bitnami/redis",
        "docker.io/library/nginx",
    ]
    redis, nginx = out.targets
    assert (redis.needs_metadata, redis.cert_secret_ref) == (True, "corp-ca")
    assert nginx.needs_metadata is True  # minAge needs timestamps or first-seen times


def test_invalid_image_is_a_problem_naming_the_file_not_a_target() -> None:
    bad = b"""
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: bad, namespace: apps}
spec:
  image: ghcr.io/UPPER/Case
"""
    out = targets_from_config(load_bytes(bad, file="bad.yaml"))
    assert out.targets == []
    assert len(out.problems) == 1
    assert out.problems[0].startswith("bad.yaml:")
    assert "UPPER" in out.problems[0]


PROVIDERS = b"""
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: ecr, namespace: apps}
spec: {image: 123456789012.dkr.ecr.eu-west-1.amazonaws.com/app, provider: aws}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: plain, namespace: apps}
spec: {image: europe-docker.pkg.dev/p/r/app, provider: generic}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: unset, namespace: apps}
spec: {image: team.azurecr.io/app}
---
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {name: unset-too, namespace: apps}
spec:
  image: team.azurecr.io/app
  select: {semver: {range: ">=1.0.0"}}
---
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {name: native, namespace: apps}
spec:
  image: team.azurecr.io/app
  scan: {provider: azure}
  select: {semver: {range: ">=1.0.0"}}
"""


def test_the_provider_reaches_the_target_and_unset_stays_unset() -> None:
    loaded = load_bytes(PROVIDERS, file="providers.yaml")
    assert loaded.errors == []
    by_name = {t.repository: t.provider for t in targets_from_config(loaded).targets}
    assert by_name == {
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app": "aws",
        "europe-docker.pkg.dev/p/r/app": "generic",
        "team.azurecr.io/app": "azure",  # two files leave it unset, the TrackedImage names it
    }


def test_an_unknown_provider_is_an_error_naming_the_field() -> None:
    bad = PROVIDERS.replace(b"provider: aws", b"provider: oracle")
    loaded = load_bytes(bad, file="bad.yaml")
    assert loaded.errors
    assert "provider" in str(loaded.errors[0])
