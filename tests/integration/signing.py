"""Sign images in a real registry as cosign does: the ``.sig`` tag layout and OCI referrers
(cosign signature artifacts and Sigstore v0.3 bundles with a ``subject``), with keys made
by ``cryptography``. Registries without the referrers API get the tag-schema fallback index
``sha256-<hex>`` that clients push there."""

from __future__ import annotations

import base64
import hashlib
import json

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from image_automation.registry.signatures import BUNDLE, COSIGN_ARTIFACT, SIMPLE_SIGNING
from tests.integration.image_push import OCI_INDEX, OCI_MANIFEST, push_blob, push_manifest

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"


def new_key(kind: str = "ecdsa") -> PrivateKey:
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: PrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def sign(key: PrivateKey, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def payload_for(digest: str, repo: str) -> bytes:
    return json.dumps({
        "critical": {"identity": {"docker-reference": repo},
                     "image": {"docker-manifest-digest": digest},
                     "type": "cosign container image signature"},
        "optional": None,
    }).encode()  # fmt: skip


def _manifest(client: httpx.Client, base: str, repo: str, *, layer: bytes, layer_type: str,
              annotations: dict[str, str], subject: dict[str, object] | None,
              artifact_type: str | None) -> bytes:  # fmt: skip
    config = b"{}"
    body: dict[str, object] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": EMPTY_CONFIG, "size": 2,
                   "digest": push_blob(client, base, repo, config)},
        "layers": [{"mediaType": layer_type, "size": len(layer),
                    "digest": push_blob(client, base, repo, layer), "annotations": annotations}],
    }  # fmt: skip
    if artifact_type:
        body["artifactType"] = artifact_type
    if subject:
        body["subject"] = subject
    return json.dumps(body).encode()


def sign_tag(client: httpx.Client, base: str, repo: str, digest: str, key: PrivateKey, *,
             payload: bytes | None = None, signature: bytes | None = None) -> None:  # fmt: skip
    """cosign's legacy layout: ``sha256-<hex>.sig`` with a simple-signing layer."""
    data = payload if payload is not None else payload_for(digest, repo)
    sig = signature if signature is not None else sign(key, data)
    annotations = {"dev.cosignproject.cosign/signature": base64.b64encode(sig).decode()}
    body = _manifest(client, base, repo, layer=data, layer_type=SIMPLE_SIGNING,
                     annotations=annotations, subject=None, artifact_type=None)  # fmt: skip
    push_manifest(client, base, repo, digest.replace(":", "-") + ".sig", body, OCI_MANIFEST)


def sign_referrer(client: httpx.Client, base: str, repo: str, digest: str, key: PrivateKey, *,
                  bundle: bool = False, fallback: bool = True) -> dict[str, object]:  # fmt: skip
    """A referrer with a ``subject``: a cosign signature artifact, or a Sigstore bundle. With
    ``fallback`` the tag-schema index is updated too (what clients do on registries without
    the referrers API). Returns the referrer's descriptor."""
    subject = {"mediaType": OCI_MANIFEST, "digest": digest,
               "size": len(client.get(f"{base}/v2/{repo}/manifests/{digest}",
                                      headers={"Accept": OCI_MANIFEST}).content)}  # fmt: skip
    if bundle:
        statement = json.dumps({"_type": "https://in-toto.io/Statement/v1",
                                "subject": [{"name": repo,
                                             "digest": {"sha256": digest.split(":")[1]}}],
                                "predicateType": "https://sigstore.dev/cosign/sign/v1",
                                "predicate": {}}).encode()  # fmt: skip
        kind = "application/vnd.in-toto+json"
        pae = b"DSSEv1 %d %s %d %s" % (len(kind), kind.encode(), len(statement), statement)
        sig = base64.b64encode(sign(key, pae)).decode()
        envelope = {"payload": base64.b64encode(statement).decode(), "payloadType": kind,
                    "signatures": [{"sig": sig}]}  # fmt: skip
        layer = json.dumps({"mediaType": BUNDLE, "dsseEnvelope": envelope}).encode()
        body = _manifest(client, base, repo, layer=layer, layer_type=BUNDLE, annotations={},
                         subject=subject, artifact_type=BUNDLE)  # fmt: skip
        artifact = BUNDLE
    else:
        data = payload_for(digest, repo)
        ann = {"dev.cosignproject.cosign/signature": base64.b64encode(sign(key, data)).decode()}
        body = _manifest(client, base, repo, layer=data, layer_type=SIMPLE_SIGNING, annotations=ann,
                         subject=subject, artifact_type=COSIGN_ARTIFACT)  # fmt: skip
        artifact = COSIGN_ARTIFACT
    ref_digest = "sha256:" + hashlib.sha256(body).hexdigest()
    push_manifest(client, base, repo, ref_digest, body, OCI_MANIFEST)
    descriptor = {"mediaType": OCI_MANIFEST, "digest": ref_digest, "size": len(body),
                  "artifactType": artifact}  # fmt: skip
    if fallback:
        tag = digest.replace(":", "-")
        got = client.get(f"{base}/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_INDEX})
        entries = got.json().get("manifests", []) if got.status_code == 200 else []
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [*entries, descriptor]}
        push_manifest(client, base, repo, tag, json.dumps(index).encode(), OCI_INDEX)
    return descriptor
