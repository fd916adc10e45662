"""deploy/README.md's examples run: its files render and pass, its recipes do what they say."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from image_automation.cli._run import RunFile, run_command
from tests.deploy.ci_entrypoints import action, run_script
from tests.deploy.daemon_pod import DaemonPod
from tests.deploy.pod_security import violations
from tests.deploy.renders import DEPLOY, Obj, by_kind, helm_render, kustomize, only
from tests.e2e.reconcile.helpers import fleet_files
from tests.integration.git_fixtures import make_remote
from tests.integration.local_registry import LocalRegistry

README = (DEPLOY / "README.md").read_text()
_BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def _marked() -> dict[str, str]:
    """Blocks preceded by ``<!-- test: PATH -->``."""
    found = {}
    for match in re.finditer(r"<!-- test: (\S+) -->\n```\w+\n(.*?)```", README, re.S):
        found[match[1]] = match[2]
    assert len(found) >= 3, found
    return found


def _blocks(lang: str) -> list[str]:
    return [m[2] for m in _BLOCK.finditer(README) if m[1] == lang]


def _workspace(tmp_path: Path) -> Path:
    (tmp_path / "deploy").symlink_to(DEPLOY)  # the recipes run from the repository root
    return tmp_path


def _passes(objects: list[Obj]) -> None:
    for obj in objects:
        assert violations(obj) == [], obj["kind"]


def test_the_example_overlay_renders_mounts_the_registry_secret_and_passes(
    tmp_path: Path,
) -> None:
    root = _workspace(tmp_path)
    for path, text in _marked().items():
        if path.startswith("overlay/"):
            (root / path).parent.mkdir(exist_ok=True)
            (root / path).write_text(text)
    objects = kustomize(root / "overlay")
    assert {o["metadata"]["namespace"] for o in objects} == {"image-automation"}
    pod = DaemonPod.of(only(objects, "Deployment"))
    assert pod.container["image"] == "registry.example.com/platform/image-automation:0.1.0"
    regcred = pod.volume_at(f"{pod.flags['--secrets-dir']}/regcred")
    assert regcred["secret"]["secretName"] == "ghcr-pull"
    assert by_kind(objects, "ServiceMonitor")
    _passes(objects)


def test_the_replicas_values_render_three_pods_on_the_existing_secret() -> None:
    values = yaml.safe_load(_marked()["replicas.yaml"])
    objects = helm_render(values, namespace="flux-system")
    deployment = only(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    (env,) = DaemonPod.of(deployment).container["env"]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "image-automation-postgres", "key": "url"}
    assert DaemonPod.of(deployment).volume("git")["secret"]["secretName"] == "flux-system"
    config = yaml.safe_load(only(objects, "ConfigMap")["data"]["config.yaml"])
    assert RunFile.model_validate(config).lease_duration == "30s"  # a setting run accepts
    _passes(objects)


def test_the_kustomize_replicas_patch_gives_the_charts_replicas_pod_on_postgres(
    tmp_path: Path,
) -> None:
    root = _workspace(tmp_path)
    (root / "replicas").mkdir()
    (root / "replicas" / "kustomization.yaml").write_text(_marked()["replicas/kustomization.yaml"])
    objects = kustomize(root / "replicas")
    deployment = only(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    pod = DaemonPod.of(deployment)
    assert pod.flags["--state"] == "$(IMAGE_AUTOMATION_STATE)"
    assert {opt for p in run_command.params for opt in p.opts} >= set(pod.flags)
    chart = only(helm_render(yaml.safe_load(_marked()["replicas.yaml"])), "Deployment")
    ours, theirs = pod.container, DaemonPod.of(chart).container
    assert (ours["args"], ours["env"]) == (theirs["args"], theirs["env"])
    assert deployment["spec"]["strategy"] == chart["spec"]["strategy"]
    _passes(objects)


def test_the_copy_and_edit_recipe_gives_an_overlay_for_the_new_repository(
    tmp_path: Path,
) -> None:
    root = _workspace(tmp_path)
    (recipe,) = [b for b in _blocks("sh") if "cp -r deploy/kustomize/beside-flux" in b]
    steps = [line for line in recipe.splitlines() if "kubectl apply" not in line]
    subprocess.run(["sh", "-ec", "\n".join(steps)], cwd=root, check=True, timeout=60)
    objects = kustomize(root / "my-image-automation")
    config = yaml.safe_load(only(objects, "ConfigMap")["data"]["config.yaml"])
    assert config["repo"] == "ssh://git@github.com/acme/fleet.git"
    assert {o["metadata"]["namespace"] for o in objects} == {"flux-system"}


def test_the_workflow_example_uses_only_inputs_the_action_declares() -> None:
    (workflow,) = [
        yaml.safe_load(b) for b in _blocks("yaml") if "uses: OWNER/image-automation" in b
    ]
    (step,) = workflow["jobs"]["update"]["steps"]
    assert set(step["with"]) <= set(action()["inputs"])
    assert workflow["permissions"] == {"contents": "write"}


def test_the_gitlab_example_extends_the_template_job() -> None:
    (example,) = [yaml.safe_load(b) for b in _blocks("yaml") if "extends: .image-automation" in b]
    template = yaml.safe_load((DEPLOY / "ci" / "gitlab-ci.yml").read_text())
    assert example["image-updates"]["extends"] in template
    assert set(example["image-updates"]["variables"]) <= set(
        re.findall(r"IMAGE_AUTOMATION_[A-Z_]+", (DEPLOY / "ci" / "reconcile-once.sh").read_text())
    )


@pytest.mark.integration
def test_the_local_script_recipe_prints_a_dry_run(registry: LocalRegistry, tmp_path: Path) -> None:
    repo = f"team/readme-{os.urandom(4).hex()}"
    registry.push(repo, "1.0.0", "1.0.5")
    files = {k: v.replace("team/app", repo) for k, v in fleet_files(registry.host).items()}
    remote = make_remote(tmp_path / "fleet" / "fleet.git", files)
    (recipe,) = [b for b in _blocks("sh") if "sh deploy/ci/reconcile-once.sh" in b]
    env = dict(re.findall(r"(IMAGE_AUTOMATION_\w+)=(\S+)", recipe))
    env = {k: v.strip('"').replace("$PWD", str(tmp_path)) for k, v in env.items()}
    done = run_script(env, tmp=tmp_path, cwd=_workspace(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{registry.host}/{repo}:1.0.5" in done.stdout
    assert len(remote.commits()) == 1
