"""The restricted Pod Security checker catches each control; every workload we ship passes it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.deploy.pod_security import violations
from tests.deploy.renders import Obj

COMPLIANT: Obj = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "ok"},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "app", "image": "app:1",
            "securityContext": {"allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}},
            "ports": [{"containerPort": 8080}],
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}},
        }],
        "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "s", "secret": {"secretName": "s"}}],
    },
}  # fmt: skip


def _pod(change: Callable[[Obj], Any]) -> Obj:
    pod = copy.deepcopy(COMPLIANT)
    change(pod)
    return pod


def _c(pod: Obj) -> Obj:
    return pod["spec"]["containers"][0]


def _sc(pod: Obj) -> Obj:
    return _c(pod)["securityContext"]


# (what breaks, the control the standard names for it)
BREAKS: list[tuple[str, Callable[[Obj], Any], str]] = [
    ("privileged", lambda p: _sc(p).update(privileged=True), "Privileged Containers"),
    ("host network", lambda p: p["spec"].update(hostNetwork=True), "Host Namespaces"),
    ("host PID", lambda p: p["spec"].update(hostPID=True), "Host Namespaces"),
    ("host IPC", lambda p: p["spec"].update(hostIPC=True), "Host Namespaces"),
    ("windows host process", lambda p: _sc(p).update(windowsOptions={"hostProcess": True}),
     "HostProcess"),
    ("baseline capability", lambda p: _sc(p)["capabilities"].update(add=["SYS_ADMIN"]),
     "Capabilities"),
    ("restricted capability", lambda p: _sc(p)["capabilities"].update(add=["CHOWN"]),
     "Capabilities"),
    ("no drop ALL", lambda p: _sc(p).pop("capabilities"), "Capabilities"),
    ("hostPath volume", lambda p: p["spec"]["volumes"].append(
        {"name": "h", "hostPath": {"path": "/"}}), "HostPath Volumes"),
    ("nfs volume", lambda p: p["spec"]["volumes"].append(
        {"name": "n", "nfs": {"server": "x", "path": "/"}}), "Volume Types"),
    ("host port", lambda p: _c(p)["ports"][0].update(hostPort=8080), "Host Ports"),
    ("probe host", lambda p: _c(p)["livenessProbe"]["httpGet"].update(host="10.0.0.1"),
     "Host Probes / Lifecycle Hooks"),
    ("preStop host", lambda p: _c(p).update(
        lifecycle={"preStop": {"tcpSocket": {"host": "x", "port": 1}}}),
     "Host Probes / Lifecycle Hooks"),
    ("apparmor unconfined", lambda p: _sc(p).update(appArmorProfile={"type": "Unconfined"}),
     "AppArmor"),
    ("apparmor annotation", lambda p: p["metadata"].update(annotations={
        "container.apparmor.security.beta.kubernetes.io/app": "unconfined"}), "AppArmor"),
    ("selinux type", lambda p: _sc(p).update(seLinuxOptions={"type": "spc_t"}), "SELinux"),
    ("selinux user", lambda p: p["spec"]["securityContext"].update(
        seLinuxOptions={"user": "system_u"}), "SELinux"),
    ("unmasked /proc", lambda p: _sc(p).update(procMount="Unmasked"), "/proc Mount Type"),
    ("seccomp unconfined", lambda p: _sc(p).update(seccompProfile={"type": "Unconfined"}),
     "Seccomp"),
    ("no seccomp", lambda p: p["spec"]["securityContext"].pop("seccompProfile"), "Seccomp"),
    ("unsafe sysctl", lambda p: p["spec"]["securityContext"].update(
        sysctls=[{"name": "kernel.msgmax", "value": "1"}]), "Sysctls"),
    ("escalation allowed", lambda p: _sc(p).update(allowPrivilegeEscalation=True),
     "Privilege Escalation"),
    ("escalation unset", lambda p: _sc(p).pop("allowPrivilegeEscalation"),
     "Privilege Escalation"),
    ("runAsNonRoot unset", lambda p: p["spec"]["securityContext"].pop("runAsNonRoot"),
     "Running as Non-root"),
    ("container runAsNonRoot false", lambda p: _sc(p).update(runAsNonRoot=False),
     "Running as Non-root"),
    ("runAsUser 0", lambda p: _sc(p).update(runAsUser=0), "Running as Non-root user"),
    ("pod runAsUser 0", lambda p: p["spec"]["securityContext"].update(runAsUser=0),
     "Running as Non-root user"),
    ("privileged init container", lambda p: p["spec"].update(initContainers=[{
        "name": "init", "image": "x", "securityContext": {"privileged": True,
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]),
     "Privileged Containers"),
]  # fmt: skip


def test_a_compliant_pod_passes() -> None:
    assert violations(COMPLIANT) == []


@pytest.mark.parametrize(("change", "control"), [(c, k) for _, c, k in BREAKS],
                         ids=[n for n, _, _ in BREAKS])  # fmt: skip
def test_each_control_of_the_standard_is_caught(change: Callable[[Obj], Any], control: str) -> None:
    found = violations(_pod(change))
    assert control in {line.split(":", 1)[0] for line in found}, found


def test_a_privileged_pod_breaks_many_controls_at_once() -> None:
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root"},
        "spec": {"hostNetwork": True, "containers": [{
            "name": "sh", "image": "busybox",
            "securityContext": {"privileged": True, "runAsUser": 0},
        }], "volumes": [{"name": "host", "hostPath": {"path": "/"}}]},
    }  # fmt: skip
    controls = {line.split(":", 1)[0] for line in violations(pod)}
    assert controls == {
        "Host Namespaces", "Privileged Containers", "HostPath Volumes", "Volume Types",
        "Privilege Escalation", "Running as Non-root", "Running as Non-root user", "Seccomp",
        "Capabilities",
    }  # fmt: skip


def test_workload_templates_are_checked_like_pods() -> None:
    bad = _pod(lambda p: _sc(p).update(privileged=True))
    deployment = {"kind": "Deployment", "spec": {"template": bad}}
    cronjob = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": bad}}}}
    assert violations(deployment) and violations(cronjob)
    assert violations({"kind": "Service", "spec": {}}) == []


def test_linux_only_controls_are_skipped_for_windows_pods() -> None:
    pod = _pod(lambda p: (_sc(p).clear(), p["spec"].update(os={"name": "windows"}),
                          p["spec"]["securityContext"].pop("seccompProfile")))  # fmt: skip
    assert violations(pod) == []


WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"}


def test_every_workload_we_render_passes_the_restricted_profile(
    all_renders: dict[str, list[Obj]],
) -> None:
    checked = 0
    for name, objects in all_renders.items():
        for obj in objects:
            if obj["kind"] in WORKLOAD_KINDS:
                assert violations(obj) == [], f"{name}: {obj['kind']}/{obj['metadata']['name']}"
                checked += 1
    # base, two overlays and every chart variant carry one Deployment each
    assert checked == len(all_renders) - 1
