"""Pushing tiny images over the registry API: blobs, manifests (OCI or Docker), indexes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import httpx

from tests.integration.fixture_base import FixtureError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

# --- pushing images --------------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class PushedImage:
    """What :func:`push_image` uploaded: manifest digest and media type, config digest."""

    digest: str
    media_type: str
    config_digest: str
    created: dt.datetime


def push_blob(client: httpx.Client, base: str, repo: str, data: bytes) -> str:
    """Upload ``data`` unless the repository has it (HEAD, POST, PUT ?digest=)."""
    digest = _digest(data)
    if client.head(f"{base}/v2/{repo}/blobs/{digest}").status_code == 200:
        return digest
    started = client.post(f"{base}/v2/{repo}/blobs/uploads/")
    if started.status_code != 202:
        raise FixtureError(f"blob upload to {repo} refused: HTTP {started.status_code}")
    location = httpx.URL(base).join(started.headers["location"])
    done = client.put(
        location.copy_merge_params({"digest": digest}),
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if done.status_code != 201:
        raise FixtureError(f"blob upload to {repo} failed: HTTP {done.status_code} {done.text}")
    return digest


def push_manifest(
    client: httpx.Client, base: str, repo: str, reference: str, body: bytes, media_type: str
) -> str:
    response = client.put(
        f"{base}/v2/{repo}/manifests/{reference}",
        content=body,
        headers={"Content-Type": media_type},
    )
    if response.status_code != 201:
        raise FixtureError(
            f"manifest {repo}:{reference} refused: HTTP {response.status_code} {response.text}"
        )
    return response.headers.get("docker-content-digest") or _digest(body)


def push_image(
    client: httpx.Client,
    base: str,
    repo: str,
    tags: Sequence[str],
    *,
    media: Literal["oci", "docker"] = "oci",
    created: dt.datetime | None = None,
    architecture: str = "amd64",
    os_name: str = "linux",
    salt: str = "",
    labels: Mapping[str, str] | None = None,
) -> PushedImage:
    """Push a tiny single-platform image under every tag in ``tags`` (``labels``: its
    config's ``Labels``, e.g. the OCI source and revision)."""
    when = created or dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    layer = f"layer {repo} {architecture} {salt}".encode()
    config = json.dumps(
        {
            "created": when.isoformat().replace("+00:00", "Z"),
            "architecture": architecture,
            "os": os_name,
            "config": {"Labels": dict(labels)} if labels else {},
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
        },
        sort_keys=True,
    ).encode()
    config_digest = push_blob(client, base, repo, config)
    layer_digest = push_blob(client, base, repo, layer)
    manifest_type = OCI_MANIFEST if media == "oci" else DOCKER_MANIFEST
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {
                "mediaType": OCI_CONFIG if media == "oci" else DOCKER_CONFIG,
                "size": len(config),
                "digest": config_digest,
            },
            "layers": [
                {
                    "mediaType": OCI_LAYER if media == "oci" else DOCKER_LAYER,
                    "size": len(layer),
                    "digest": layer_digest,
                }
            ],
        }
    ).encode()
    digest = _digest(manifest)
    for tag in tags:
        push_manifest(client, base, repo, tag, manifest, manifest_type)
    if not tags:
        push_manifest(client, base, repo, digest, manifest, manifest_type)
    return PushedImage(digest, manifest_type, config_digest, when)


def push_index(
    client: httpx.Client,
    base: str,
    repo: str,
    tags: Sequence[str],
    *,
    platforms: dict[str, dt.datetime],
    media: Literal["oci", "docker"] = "oci",
) -> tuple[str, dict[str, PushedImage]]:
    """Push one image per ``os/arch`` (with its ``created``) and an index over them."""
    children: dict[str, PushedImage] = {}
    entries = []
    for platform, created in platforms.items():
        os_name, arch = platform.split("/", 1)
        child = push_image(
            client,
            base,
            repo,
            [],
            media=media,
            created=created,
            architecture=arch,
            os_name=os_name,
        )
        children[platform] = child
        entries.append(
            {
                "mediaType": child.media_type,
                "digest": child.digest,
                "size": 0,
                "platform": {"os": os_name, "architecture": arch},
            }
        )
    index_type = OCI_INDEX if media == "oci" else DOCKER_LIST
    # Real sizes matter to some clients; compute them from the stored manifests.
    for entry in entries:
        got = client.get(
            f"{base}/v2/{repo}/manifests/{entry['digest']}",
            headers={"Accept": str(entry["mediaType"])},
        )
        entry["size"] = len(got.content)
    index = json.dumps({"schemaVersion": 2, "mediaType": index_type, "manifests": entries}).encode()
    digest = _digest(index)
    for tag in tags:
        push_manifest(client, base, repo, tag, index, index_type)
    return digest, children
