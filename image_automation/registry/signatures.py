"""Cosign signatures of a manifest digest, found where registries keep them and verified.

Two places: cosign's legacy tag ``sha256-<hex>.sig`` (an image whose layers are
simple-signing payloads, each signature in the layer's
``dev.cosignproject.cosign/signature`` annotation), and OCI 1.1 referrers of the digest
(the referrers API, or its tag-schema fallback on registries without it): cosign signature
artifacts in the same layout, and Sigstore bundles (``application/vnd.dev.sigstore.bundle
.v0.3+json``) holding a DSSE envelope over an in-toto statement naming the digest.

A signature counts only when it verifies with one of the given public keys (ECDSA P-256,
Ed25519, RSA) *and* what it signs names this very digest: a signature copied from another
image, or a payload changed after signing, is refused with the reason. Keys are key-based
only; keyless (Fulcio certificates) is not supported (docs/decisions.md).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from image_automation.domain import ImageRef
from image_automation.errors import ConfigError, ImageAutomationError
from image_automation.registry.client import RegistryClient

SIMPLE_SIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
COSIGN_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"
BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
MAX_LAYERS = 32
"""Signatures read per manifest at most: a hostile manifest cannot make us fetch more."""

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey


@dataclass(frozen=True, slots=True)
class KeySet:
    """Public keys and their identity (the digest of their DER encodings, sorted)."""

    keys: tuple[PublicKey, ...]
    id: str

    @classmethod
    def from_pem(cls, pems: Sequence[bytes]) -> KeySet:
        keys: list[PublicKey] = []
        ders: list[bytes] = []
        for i, pem in enumerate(pems):
            try:
                key = serialization.load_pem_public_key(pem)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"public key {i + 1} is not a PEM public key") from exc
            if isinstance(key, ec.EllipticCurvePublicKey) and not isinstance(
                key.curve, ec.SECP256R1
            ):
                raise ConfigError(f"public key {i + 1}: only the P-256 curve is supported")
            if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
                              | rsa.RSAPublicKey):  # fmt: skip
                raise ConfigError(f"public key {i + 1}: not ECDSA P-256, Ed25519 or RSA")
            keys.append(key)
            spki = serialization.PublicFormat.SubjectPublicKeyInfo
            ders.append(key.public_bytes(serialization.Encoding.DER, spki))
        if not keys:
            raise ConfigError("no public key (*.pub) in the verify secret")
        ident = hashlib.sha256(b"".join(sorted(ders))).hexdigest()
        return cls(tuple(keys), f"sha256:{ident}")

    def verifies(self, signature: bytes, message: bytes) -> bool:
        return any(_verify(key, signature, message) for key in self.keys)


def _verify(key: PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            try:
                key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
                key.verify(signature, message, pss, hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


async def _legacy(
    client: RegistryClient, image: ImageRef, digest: str, keys: KeySet, problems: list[str]
) -> Verdict | None:
    """The verdict of cosign's ``sha256-<hex>.sig`` tag, or ``None`` (none there, or none
    valid: the problem is in ``problems``)."""
    tag = digest.replace(":", "-", 1) + ".sig"
    try:
        legacy = await client.get_manifest(image, tag)
    except ImageAutomationError as exc:
        if "not found" not in str(exc):
            problems.append(f"{tag}: {exc}")
        return None
    return await _simple_signing(client, image, digest, legacy.data, keys, problems)


@dataclass(frozen=True, slots=True)
class Verdict:
    valid: bool
    reason: str


async def check_signatures(
    client: RegistryClient, image: ImageRef, digest: str, keys: KeySet, *,
    tags: Collection[str] | None = None,
) -> Verdict:  # fmt: skip
    """Whether ``digest`` of ``image`` carries a signature by ``keys``, and why (not).

    ``tags``: the repository's whole tag list when the caller has it (a scan of this
    interval): a ``.sig`` or fallback-index tag it lacks is not asked for, since its answer
    (404) is known already. ``None`` asks for both."""
    problems: list[str] = []
    stem = digest.replace(":", "-", 1)
    if tags is None or f"{stem}.sig" in tags:
        verdict = await _legacy(client, image, digest, keys, problems)
        if verdict is not None:
            return verdict
    try:
        listed = None if tags is None else stem in tags
        referrers = await client.referrers(image, digest, fallback=listed)
    except ImageAutomationError as exc:
        problems.append(f"referrers: {exc}")
        referrers = []
    for entry in referrers[:MAX_LAYERS]:
        kind = entry.get("artifactType")
        ref = entry.get("digest")
        if kind not in (COSIGN_ARTIFACT, BUNDLE) or not isinstance(ref, str):
            continue
        try:
            manifest = (await client.get_manifest(image, ref)).data
            if kind == BUNDLE:
                verdict = await _bundle(client, image, digest, manifest, keys, problems)
            else:
                verdict = await _simple_signing(client, image, digest, manifest, keys, problems)
        except ImageAutomationError as exc:
            problems.append(f"referrer {ref[:19]}: {exc}")
            continue
        if verdict is not None:
            return verdict
    if problems:
        return Verdict(False, "no valid signature: " + "; ".join(problems[:3]))
    return Verdict(False, "unsigned (no .sig tag, no signature referrer)")


async def _simple_signing(
    client: RegistryClient, image: ImageRef, digest: str, manifest: dict[str, Any],
    keys: KeySet, problems: list[str],
) -> Verdict | None:  # fmt: skip
    layers = manifest.get("layers")
    if not isinstance(layers, list):
        problems.append("signature manifest has no layers")
        return None
    for layer in layers[:MAX_LAYERS]:
        if not isinstance(layer, dict) or layer.get("mediaType") != SIMPLE_SIGNING:
            continue
        annotations = layer.get("annotations") or {}
        sig_text = annotations.get(SIGNATURE_ANNOTATION) if isinstance(annotations, dict) else None
        blob = layer.get("digest")
        if not isinstance(sig_text, str) or not isinstance(blob, str):
            problems.append("signature layer without signature or digest")
            continue
        payload = await client.get_blob(image, blob)
        signature = _b64(sig_text)
        if signature is None or not keys.verifies(signature, payload):
            problems.append("signature does not verify with the given keys")
            continue
        signed = _json(payload)
        named = ((signed.get("critical") or {}).get("image") or {}).get("docker-manifest-digest")
        if named != digest:
            problems.append(f"signature is for another digest ({str(named)[:19]})")
            continue
        return Verdict(True, "signed (cosign simple signing)")
    return None


async def _bundle(
    client: RegistryClient, image: ImageRef, digest: str, manifest: dict[str, Any],
    keys: KeySet, problems: list[str],
) -> Verdict | None:  # fmt: skip
    layers = manifest.get("layers")
    if not isinstance(layers, list) or not layers or not isinstance(layers[0], dict):
        problems.append("bundle manifest has no layer")
        return None
    bundle = _json(await client.get_blob(image, str(layers[0].get("digest"))))
    envelope = bundle.get("dsseEnvelope") if isinstance(bundle, dict) else None
    if not isinstance(envelope, dict):
        problems.append("bundle has no DSSE envelope")
        return None
    payload, kind = _b64(str(envelope.get("payload", ""))), str(envelope.get("payloadType", ""))
    if payload is None:
        problems.append("bundle payload is not base64")
        return None
    message = _pae(kind, payload)
    for entry in (envelope.get("signatures") or [])[:MAX_LAYERS]:
        signature = _b64(str(entry.get("sig", ""))) if isinstance(entry, dict) else None
        if signature is not None and keys.verifies(signature, message):
            break
    else:
        problems.append("bundle signature does not verify with the given keys")
        return None
    statement = _json(payload)
    subjects = statement.get("subject") if isinstance(statement, dict) else None
    hexes = [s.get("digest", {}).get("sha256") for s in subjects or [] if isinstance(s, dict)]
    if digest.removeprefix("sha256:") not in hexes:
        problems.append("bundle statement names another digest")
        return None
    return Verdict(True, "signed (Sigstore bundle v0.3)")


def _pae(kind: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what a DSSE signature signs."""
    k = kind.encode()
    return b"DSSEv1 %d %s %d %s" % (len(k), k, len(payload), payload)


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        return None


def _json(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return {}


__all__ = ["BUNDLE", "COSIGN_ARTIFACT", "SIMPLE_SIGNING", "KeySet", "Verdict", "check_signatures"]
