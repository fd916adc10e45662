"""Every rendered Deployment gives the daemon what docs/daemon.md says it needs."""

from __future__ import annotations

import posixpath

import pytest
import yaml

from image_automation.cli._run import RunFile, run_command
from image_automation.config.models import parse_duration
from tests.deploy.daemon_pod import DaemonPod, secret_sources
from tests.deploy.renders import Obj, by_kind, only


def _pods(all_renders: dict[str, list[Obj]]) -> list[tuple[str, list[Obj], DaemonPod]]:
    found = []
    for name, objects in all_renders.items():
        for deployment in by_kind(objects, "Deployment"):
            found.append((name, objects, DaemonPod.of(deployment)))
    return found


@pytest.fixture(scope="module")
def pods(all_renders: dict[str, list[Obj]]) -> list[tuple[str, list[Obj], DaemonPod]]:
    found = _pods(all_renders)
    assert len(found) == len(all_renders) - 1  # all but the servicemonitor directory
    return found


def test_every_flag_passed_is_one_run_accepts(pods: list[tuple[str, list[Obj], DaemonPod]]) -> None:
    known = {opt for param in run_command.params for opt in param.opts}
    for name, _, pod in pods:
        unknown = set(pod.flags) - known
        assert not unknown, f"{name}: run does not accept {sorted(unknown)}"


def test_probes_ask_the_daemon_port_for_healthz_and_readyz(
    pods: list[tuple[str, list[Obj], DaemonPod]],
) -> None:
    for name, _, pod in pods:
        host, _, port = pod.flags["--listen"].rpartition(":")
        assert host == "0.0.0.0", f"{name}: the kubelet probes the pod IP, not loopback"
        assert pod.port("http") == int(port), name
        live = pod.container["livenessProbe"]["httpGet"]
        ready = pod.container["readinessProbe"]["httpGet"]
        assert (live["path"], live["port"]) == ("/healthz", "http"), name
        assert (ready["path"], ready["port"]) == ("/readyz", "http"), name


def test_termination_grace_outlasts_the_daemon_grace_period(
    pods: list[tuple[str, list[Obj], DaemonPod]],
) -> None:
    for name, _, pod in pods:
        grace = parse_duration(pod.flags["--grace-period"]).total_seconds()
        assert pod.spec["terminationGracePeriodSeconds"] > grace, name


def test_secrets_are_files_under_the_one_secrets_dir(
    pods: list[tuple[str, list[Obj], DaemonPod]],
) -> None:
    for name, _, pod in pods:
        secrets_dir = pod.flags["--secrets-dir"]
        for path, mount in pod.mounts().items():
            volume = pod.volume(mount["name"])
            if secret_sources(volume):
                assert posixpath.dirname(path) == secrets_dir, f"{name}: {path}"
                assert mount.get("readOnly") is True, f"{name}: {path}"
                assert "subPath" not in mount, f"{name}: {path} would not see rotations"
        assert not [e for e in pod.container.get("envFrom") or [] if "secretRef" in e], name
        # the state URL is the one secret passed otherwise: an env var --state expands
        for env in pod.container.get("env") or []:
            if "secretKeyRef" in (env.get("valueFrom") or {}):
                assert env["name"] == "IMAGE_AUTOMATION_STATE", name
                assert pod.flags["--state"] == "$(IMAGE_AUTOMATION_STATE)", name


def test_the_git_secret_the_config_names_is_mounted(
    pods: list[tuple[str, list[Obj], DaemonPod]],
) -> None:
    for name, objects, pod in pods:
        config = _config(objects, pod)
        if config.git_secret is None:
            continue
        path = posixpath.join(pod.flags["--secrets-dir"], config.git_secret)
        assert secret_sources(pod.volume_at(path)), f"{name}: nothing mounted at {path}"


def test_data_dir_and_tmp_are_empty_dirs_on_a_read_only_root(
    pods: list[tuple[str, list[Obj], DaemonPod]],
) -> None:
    for name, _, pod in pods:
        assert pod.container["securityContext"]["readOnlyRootFilesystem"] is True, name
        for path in (pod.flags["--data-dir"], "/tmp"):
            assert "emptyDir" in pod.volume_at(path), f"{name}: {path}"
        writable = [p for p, m in pod.mounts().items() if not m.get("readOnly")]
        assert sorted(writable) == sorted([pod.flags["--data-dir"], "/tmp"]), name


def test_the_config_file_is_one_the_daemon_reads(
    pods: list[tuple[str, list[Obj], DaemonPod]],
) -> None:
    for name, objects, pod in pods:
        config = _config(objects, pod)
        assert config.repo, name
        # the flags own these: a value in the file would be silently overridden
        assert config.listen is None and config.data_dir is None, name
        assert config.secrets_dir is None and config.grace_period is None, name


def _config(objects: list[Obj], pod: DaemonPod) -> RunFile:
    directory, file = posixpath.split(pod.flags["--config"])
    volume = pod.volume_at(directory)
    sources = [volume] if "configMap" in volume else volume["projected"]["sources"]
    names = [s["configMap"]["name"] for s in sources if "configMap" in s]
    maps = {m["metadata"]["name"]: m for m in by_kind(objects, "ConfigMap")}
    (text,) = [maps[n]["data"][file] for n in names if file in maps[n]["data"]]
    return RunFile.model_validate(yaml.safe_load(text))


def test_the_service_reaches_the_daemon_port(
    pods: list[tuple[str, list[Obj], DaemonPod]],
) -> None:
    for name, objects, _ in pods:
        service = only(objects, "Service")
        (port,) = service["spec"]["ports"]
        assert port["targetPort"] == "http", name
        labels = only(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), name
        policy = only(objects, "NetworkPolicy")
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items(), name
        assert policy["spec"]["ingress"][0]["ports"] == [{"port": "http", "protocol": "TCP"}]
