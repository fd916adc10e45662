"""``image-automation scan IMAGE``: list a repository's tags the way the scanner sees them.

The options that build the registry client (credentials, settings, TLS) live in
:func:`client_options` and :func:`build_client` so other modes of ``scan`` (``--policies``)
can reuse them.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from image_automation.cli._paths import AbsolutePath, state_option
from image_automation.cli._scan_policies import scan_policies_command
from image_automation.domain import ImageRef, InvalidReference
from image_automation.engine.scanning import deadline_exceeded
from image_automation.errors import ImageAutomationError, RegistryUnavailable
from image_automation.registry import (
    ChainedCredentials,
    CredentialSource,
    DockerConfig,
    RegistryClient,
    RegistrySettings,
    SecretsDir,
    TagList,
)

F = TypeVar("F", bound=Callable[..., Any])

_FILE = AbsolutePath(exists=True, dir_okay=False)


@dataclass(frozen=True)
class ClientOptions:
    """What the command line says about reaching registries."""

    docker_config: Path | None = None
    registries: Path | None = None
    insecure: bool = False
    ca_file: Path | None = None
    secrets_dir: Path | None = None
    secret_ref: str | None = None
    cert_secret_ref: str | None = None


def client_options(command: F) -> F:
    """Decorate a click command with the registry-access options (``ClientOptions`` fields)."""
    options = [
        click.option(
            "--docker-config",
            type=_FILE,
            help="Docker config.json with auths/credHelpers/credsStore "
            "(default: $DOCKER_CONFIG/config.json or ~/.docker/config.json when present).",
        ),
        click.option(
            "--registries", type=_FILE, help="Per-registry settings YAML (docs/registries.md)."
        ),
        click.option("--insecure", is_flag=True, help="Use plain HTTP for the image's registry."),
        click.option("--ca-file", type=_FILE, help="PEM CA bundle for the image's registry."),
        click.option(
            "--secrets-dir",
            type=AbsolutePath(exists=True, file_okay=False),
            help="Kubernetes secrets mounted as DIR/NAME/<key>. Without --secret-ref every "
            "DIR/*/.dockerconfigjson is consulted.",
        ),
        click.option("--secret-ref", help="Pull secret NAME in --secrets-dir (secretRef)."),
        click.option(
            "--cert-secret-ref",
            help="TLS secret NAME in --secrets-dir with ca.crt, tls.crt, tls.key (certSecretRef).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _default_docker_config() -> Path | None:
    base = os.environ.get("DOCKER_CONFIG")
    path = Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"
    return path if path.is_file() else None


def build_client(options: ClientOptions, *, image: ImageRef | None = None) -> RegistryClient:
    """A client configured from ``options``; host flags apply to ``image``'s registry."""
    settings = RegistrySettings.load(options.registries) if options.registries else None
    settings = settings or RegistrySettings()
    sources: list[CredentialSource] = []
    secrets = SecretsDir(options.secrets_dir) if options.secrets_dir else None
    if (options.secret_ref or options.cert_secret_ref) and secrets is None:
        raise click.UsageError("--secret-ref and --cert-secret-ref need --secrets-dir")
    if secrets is not None:
        if options.secret_ref:
            sources.append(secrets.docker_config(options.secret_ref))
        elif options.secrets_dir is not None:
            for found in sorted(options.secrets_dir.glob("*/.dockerconfigjson")):
                sources.append(secrets.docker_config(found.parent.name))
    docker_config = options.docker_config or _default_docker_config()
    if docker_config is not None:
        sources.append(DockerConfig.load(docker_config))
    if image is not None:
        changes: dict[str, Any] = {}
        if options.insecure:
            changes["insecure"] = True
        if options.ca_file:
            changes["ca_file"] = options.ca_file
        if secrets is not None and options.cert_secret_ref:
            tls = secrets.tls(options.cert_secret_ref)
            for key in ("ca_file", "cert_file", "key_file"):
                if getattr(tls, key) is not None:
                    changes[key] = getattr(tls, key)
        if changes:
            settings = settings.with_host(image.registry, **changes)
    credentials = ChainedCredentials(sources) if sources else None
    return RegistryClient(settings=settings, credentials=credentials)


def _scan_policies(
    policies: tuple[Path, ...],
    state: str | None,
    concurrency: int,
    platform: str,
    options: ClientOptions,
) -> int:
    per_image = ("insecure", "ca_file", "secret_ref", "cert_secret_ref")
    given = [f"--{name.replace('_', '-')}" for name in per_image if getattr(options, name)]
    if given:
        raise click.UsageError(
            f"{', '.join(given)}: only for IMAGE; with --policies each repository's "
            "secretRef/certSecretRef/insecure comes from its file"
        )
    return scan_policies_command(
        policies=policies,
        state=state,
        concurrency=concurrency,
        platform=platform,
        docker_config=options.docker_config or _default_docker_config(),
        registries=options.registries,
        secrets_dir=options.secrets_dir,
    )


async def _list(options: ClientOptions, image: ImageRef) -> tuple[TagList, int]:
    async with build_client(options, image=image) as client:
        seconds = client.scan_timeout(image)
        try:
            async with asyncio.timeout(seconds):  # the scanner's deadline, for the same scan
                listing = await client.list_tags(image)
        except TimeoutError:
            raise RegistryUnavailable(deadline_exceeded(image.name, seconds)) from None
        return listing, client.requests


@click.command("scan")
@click.argument("image", required=False)
@client_options
@click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: one tag per line; json: {image, tags, requests}.",
)
@click.option(
    "--policies",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Instead of IMAGE: scan every repository named in these policy files (or "
    "directories) into the state store and print a table. Repeatable.",
)
@click.option(
    "--state",
    callback=state_option,
    help="With --policies: state store path or sqlite:///PATH "
    "(default: $XDG_STATE_HOME/image-automation/state.db).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="With --policies: repositories scanned at once.",
)
@click.option(
    "--platform",
    default="linux/amd64",
    show_default=True,
    help="With --policies: os/arch[/variant] whose build time counts for multi-arch images.",
)
def scan(
    image: str | None,
    output: str,
    policies: tuple[Path, ...],
    state: str | None,
    concurrency: int,
    platform: str,
    **flags: Any,
) -> None:
    """List every tag of IMAGE's repository (all pages; invalid tags dropped).

    With --policies DIR instead of IMAGE: scan every repository the policy files name (each
    once, with its own secretRef/certSecretRef/insecure), store the tags in the state store,
    and print a table (repository, tags, latest per policy, requests, last error) while a
    progress bar runs on stderr. Exit 0 all scans succeeded, 1 one failed (its last good tags
    are kept), 2 a policy file or setting is invalid.

    \b
    Examples:
      image-automation scan ghcr.io/fluxcd/flux-cli
      image-automation scan 127.0.0.1:5000/team/app --insecure --output json
      image-automation scan registry.example/app --docker-config ~/.docker/config.json \\
          --registries examples/registries.yaml
      image-automation scan registry.example/app --secrets-dir /var/run/secrets/reg \\
          --secret-ref pull-secret --cert-secret-ref registry-ca
      image-automation scan --policies policies/ --state state.db --secrets-dir /secrets

    JSON output reports "requests", the HTTP requests made (auth included). Errors go to
    stderr naming the image; the exit status is then 1.
    """
    options = ClientOptions(**flags)
    if policies and image is not None:
        raise click.UsageError("give IMAGE or --policies, not both")
    if policies:
        raise SystemExit(_scan_policies(policies, state, concurrency, platform, options))
    if image is None:
        raise click.UsageError("IMAGE or --policies is required")
    ref: ImageRef | None = None
    try:
        ref = ImageRef.parse(image)
        listing, requests = asyncio.run(_list(options, ref))
    except (ImageAutomationError, InvalidReference) as exc:
        message = str(exc)
        named = image in message or (ref is not None and ref.name in message)
        click.echo(f"error: {message}" if named else f"error: {image}: {message}", err=True)
        raise SystemExit(1) from None
    if output == "json":
        payload = {"image": listing.image, "tags": list(listing.tags), "requests": requests}
        click.echo(json.dumps(payload))
        return
    for tag in listing.tags:
        click.echo(tag)
