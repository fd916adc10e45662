"""docs/daemon.md: the shell recipe for a hook's path and signature matches the daemon's."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from image_automation.config.receivers import webhook_path
from image_automation.daemon.hooks import Verdict, hmac_hex, verify
from image_automation.daemon.metrics import Metrics

DOC = Path(__file__).resolve().parents[3] / "docs" / "daemon.md"


def shell_recipe() -> str:
    text = DOC.read_text()
    block = text.split("Its path and a signed call:\n\n```sh\n", 1)[1].split("```", 1)[0]
    return "\n".join(line for line in block.splitlines() if not line.startswith("curl"))


def test_the_documented_recipe_computes_the_path_and_a_valid_signature(tmp_path: Path) -> None:
    token = "doc-Secr3t-token"
    (tmp_path / "secrets" / "hook-token").mkdir(parents=True)
    (tmp_path / "secrets" / "hook-token" / "token").write_text(token)
    script = shell_recipe() + '\nprintf "%s\\n%s\\n%s\\n" "$HOOK" "$SIG" "$BODY"\n'
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    hook, sig, body = out
    assert hook == webhook_path(token, name="app-pushed", namespace="flux-system")
    assert sig == hmac_hex(token, body.encode())
    check = verify("generic-hmac", token=token, events=(), body=body.encode(),
                   headers={"X-Signature": f"sha256={sig}"})  # fmt: skip
    assert check.verdict is Verdict.ACCEPTED


def test_every_exported_metric_is_documented() -> None:
    text = DOC.read_text()
    documented = set(re.findall(r"`(image_automation_[a-z_]+)`", text))
    exported = set()
    for family in Metrics().registry.collect():
        if not family.name.startswith("image_automation_"):
            continue  # the standard process_* and python_info collectors
        suffix = {"counter": "_total", "info": "_info"}.get(family.type, "")
        exported.add(family.name + suffix)
    assert exported <= documented, exported - documented


def test_the_documented_cloud_receivers_load_and_the_ecr_example_wakes_its_repository() -> None:
    from image_automation.config.loading import load_bytes
    from image_automation.config.receivers import Receiver

    text = DOC.read_text()
    section = text.split("### Cloud registry receivers", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    loaded = load_bytes(block.encode(), file="daemon.md")
    receivers = [d.obj for d in loaded.receivers if isinstance(d.obj, Receiver)]
    assert [r.spec.type for r in receivers] == ["ecr-eventbridge", "gcr", "distribution", "github"]
    curl = section.split("An ECR event by hand:", 1)[1].split("```sh\n", 1)[1].split("```")[0]
    body = curl.split("-d '", 1)[1].split("'", 1)[0].encode()
    token = "doc-token"
    check = verify("ecr-eventbridge", token=token, events=(), headers={"X-Api-Key": token},
                   body=body)  # fmt: skip
    assert check.verdict is Verdict.ACCEPTED and check.subjects is not None
    assert [s.matches("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app")
            for s in check.subjects] == [True]  # fmt: skip
