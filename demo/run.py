"""`make demo`: the main job on one machine, nothing outside it.

1. Validate `policies/` and run every example policy over the tag list shipped for its image
   in `examples/tags/` (what each selects and why).
2. Start a local OCI registry (Debian `docker-registry`, as the test fixtures do) and a
   local bare git remote seeded with a manifest at `demo/app:1.0.0`, a Flux ImageRepository +
   ImagePolicy for it and the native automation `policies/native/automation.yaml`; push two
   tags (1.0.0, 1.1.0); run `image-automation reconcile --once --repo file://...`; print the
   resulting commit with `git show`.
3. Pull-request mode (demo/pull_request.py): the same fleet, now at 1.1.0, on a local fake
   GitHub with an automation that has `spec.pullRequest`; push 1.2.0; reconcile --once opens
   a pull request; print it (title, body, branch), its head commit and the fake's request log.

Any step failing ends the demo with a non-zero exit status.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo.pull_request import pull_request_demo  # noqa: E402
from image_automation.cli._tags import parse_tag_list  # noqa: E402
from image_automation.config.loading import load_paths  # noqa: E402
from image_automation.config.resolving import resolve  # noqa: E402
from image_automation.policy import select  # noqa: E402
from tests.integration.git_fixtures import make_remote  # noqa: E402
from tests.integration.local_registry import LocalRegistry  # noqa: E402

EXE = Path(sys.executable).with_name("image-automation")


def selection_table(console: Console) -> int:
    console.rule("image-automation validate policies/")
    check = subprocess.run([str(EXE), "validate", str(ROOT / "policies")], check=False)
    if check.returncode != 0:
        return check.returncode
    resolved = resolve(load_paths([ROOT / "policies"]))
    now = datetime.now(UTC)
    table = Table(title=f"selection as of {now:%Y-%m-%d %H:%M} UTC")
    for column in ("policy", "image", "selected", "why"):
        table.add_column(column)
    for policy in resolved.policies:
        slug = f"{policy.image.registry}/{policy.image.repository}".replace("/", "_")
        tags_file = ROOT / "examples" / "tags" / f"{slug}.txt"
        tags = parse_tag_list(tags_file.read_text(), source=str(tags_file))
        decision = select(policy.spec, tags, now=now)
        why = "; ".join(decision.reasons) or f"{len(decision.considered)} considered"
        table.add_row(policy.key, str(policy.image), decision.tag or "-", why)
    console.print(table)
    return 0


def fleet(image: str, tag: str = "1.0.0") -> dict[str, str]:
    """The files of the demo's git remote, the Deployment at ``image:tag``."""
    return {
        "clusters/demo/app.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: demo-app\n"
            "  namespace: demo\nspec:\n  template:\n    spec:\n      containers:\n"
            "        - name: app\n"
            f'          image: {image}:{tag} # {{"$imagepolicy": "apps:demo-app"}}\n'
        ),
        "automation/demo-app.yaml": (
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
            "metadata: {name: demo-app, namespace: apps}\n"
            f"spec:\n  image: {image}\n  interval: 5m\n  insecure: true\n---\n"
            "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n"
            "metadata:\n  name: demo-app\n  namespace: apps\n  labels: {automation: apps}\n"
            "spec:\n  imageRepositoryRef: {name: demo-app}\n"
            "  policy:\n    semver: {range: '>=1.0.0 <2.0.0'}\n"
        ),
        "automation/automation.yaml": (ROOT / "policies/native/automation.yaml").read_text(),
    }


def reconcile_demo(console: Console) -> int:
    with tempfile.TemporaryDirectory(prefix="ia-demo-") as tmp, LocalRegistry() as registry:
        image = f"{registry.host}/demo/app"
        code = push_demo(console, registry=registry, image=image, tmp=Path(tmp))
        if code != 0:
            return code
        files = fleet(image, tag="1.1.0")
        return pull_request_demo(console, registry=registry, files=files, tmp=Path(tmp))


def push_demo(console: Console, *, registry: LocalRegistry, image: str, tmp: Path) -> int:
    console.rule(f"local registry at {registry.host}: push demo/app:1.0.0 and 1.1.0")
    registry.push("demo/app", "1.0.0", "1.1.0")
    remote = make_remote(tmp / "fleet.git", fleet(image))
    console.rule(f"image-automation reconcile --once --repo {remote.url}")
    run = subprocess.run(
        [str(EXE), "reconcile", "--once", "--repo", remote.url,
         "--work-dir", str(tmp / "work"), "--state", str(tmp / "state.db")],
        check=False,
    )  # fmt: skip
    if run.returncode != 0:
        return run.returncode
    console.rule("git show (the commit on the remote)")
    shown = subprocess.run(
        ["git", "--git-dir", str(remote.path), "show", "--stat", "--patch", "main"],
        check=False,
    )
    return shown.returncode


def main() -> int:
    console = Console()
    code = selection_table(console)
    return code or reconcile_demo(console)


if __name__ == "__main__":
    sys.exit(main())
