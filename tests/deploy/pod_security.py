"""The restricted Pod Security Standard as a checker, written from the standard's published list.

Source: kubernetes.io/docs/concepts/security/pod-security-standards (Baseline and Restricted
tables, current as of Kubernetes 1.34: host probes added there). Each control below names its
row; ``violations(obj)`` returns one line per field that breaks one, for a Pod or any workload
carrying a pod template. The controls marked Linux-only are skipped for ``spec.os.name:
windows``, as the standard says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Obj = dict[str, Any]

BASELINE_CAPABILITIES = frozenset(
    [
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    ]
)
SAFE_SYSCTLS = frozenset(
    [
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    ]
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t",
                           "container_engine_t"})  # fmt: skip
RESTRICTED_VOLUMES = frozenset(
    [
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    ]
)
CONFINED = frozenset({"RuntimeDefault", "Localhost"})
_TEMPLATE_KINDS = {"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job",
                   "ReplicationController", "PodTemplate"}  # fmt: skip
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def pod_of(obj: Obj) -> tuple[Obj, Obj] | None:
    """(metadata, spec) of the pod ``obj`` runs, or None for objects that run none."""
    kind = obj.get("kind")
    if kind == "Pod":
        return obj.get("metadata") or {}, obj.get("spec") or {}
    if kind == "CronJob":
        template = obj["spec"]["jobTemplate"]["spec"]["template"]
    elif kind == "PodTemplate":
        template = obj["template"]
    elif kind in _TEMPLATE_KINDS:
        template = obj["spec"]["template"]
    else:
        return None
    return template.get("metadata") or {}, template.get("spec") or {}


def _containers(spec: Obj) -> Iterator[tuple[str, Obj]]:
    for field in _CONTAINER_LISTS:
        for i, container in enumerate(spec.get(field) or []):
            yield f"spec.{field}[{i}]", container


def _ctx(container: Obj) -> Obj:
    return container.get("securityContext") or {}


def _get(obj: Obj, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)  # type: ignore[assignment]
    return obj


Finding = Iterator[str]


def host_process(meta: Obj, spec: Obj) -> Finding:
    pod = _get(spec, "securityContext.windowsOptions.hostProcess")
    if pod:
        yield f"HostProcess: spec.securityContext.windowsOptions.hostProcess: {pod!r}"
    for path, c in _containers(spec):
        if _get(_ctx(c), "windowsOptions.hostProcess"):
            yield f"HostProcess: {path}.securityContext.windowsOptions.hostProcess: True"


def host_namespaces(meta: Obj, spec: Obj) -> Finding:
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            yield f"Host Namespaces: spec.{field}: {spec[field]!r}"


def privileged(meta: Obj, spec: Obj) -> Finding:
    for path, c in _containers(spec):
        if _ctx(c).get("privileged"):
            yield f"Privileged Containers: {path}.securityContext.privileged: True"


def baseline_capabilities(meta: Obj, spec: Obj) -> Finding:
    for path, c in _containers(spec):
        extra = set(_get(_ctx(c), "capabilities.add") or []) - BASELINE_CAPABILITIES
        if extra:
            yield f"Capabilities: {path}.securityContext.capabilities.add: {sorted(extra)}"


def host_path(meta: Obj, spec: Obj) -> Finding:
    for i, volume in enumerate(spec.get("volumes") or []):
        if volume.get("hostPath") is not None:
            yield f"HostPath Volumes: spec.volumes[{i}].hostPath"


def host_ports(meta: Obj, spec: Obj) -> Finding:
    for path, c in _containers(spec):
        for j, port in enumerate(c.get("ports") or []):
            if port.get("hostPort"):
                yield f"Host Ports: {path}.ports[{j}].hostPort: {port['hostPort']!r}"


def host_probes(meta: Obj, spec: Obj) -> Finding:
    handlers = [f"{p}.{h}" for p in ("livenessProbe", "readinessProbe", "startupProbe")
                for h in ("httpGet", "tcpSocket")]  # fmt: skip
    handlers += [f"lifecycle.{p}.{h}" for p in ("postStart", "preStop")
                 for h in ("httpGet", "tcpSocket")]  # fmt: skip
    for path, c in _containers(spec):
        for handler in handlers:
            host = _get(c, f"{handler}.host")
            if host:
                yield f"Host Probes / Lifecycle Hooks: {path}.{handler}.host: {host!r}"


def apparmor(meta: Obj, spec: Obj) -> Finding:
    pod = _get(spec, "securityContext.appArmorProfile.type")
    if pod is not None and pod not in CONFINED:
        yield f"AppArmor: spec.securityContext.appArmorProfile.type: {pod!r}"
    for path, c in _containers(spec):
        kind = _get(_ctx(c), "appArmorProfile.type")
        if kind is not None and kind not in CONFINED:
            yield f"AppArmor: {path}.securityContext.appArmorProfile.type: {kind!r}"
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    for key, value in (meta.get("annotations") or {}).items():
        if key.startswith(prefix) and not (
            value == "runtime/default" or str(value).startswith("localhost/")
        ):
            yield f"AppArmor: metadata.annotations[{key!r}]: {value!r}"


def selinux(meta: Obj, spec: Obj) -> Finding:
    contexts = [("spec.securityContext", spec.get("securityContext") or {})]
    contexts += [(f"{path}.securityContext", _ctx(c)) for path, c in _containers(spec)]
    for path, ctx in contexts:
        options = ctx.get("seLinuxOptions") or {}
        if options.get("type", "") not in SELINUX_TYPES:
            yield f"SELinux: {path}.seLinuxOptions.type: {options['type']!r}"
        for field in ("user", "role"):
            if options.get(field):
                yield f"SELinux: {path}.seLinuxOptions.{field}: {options[field]!r}"


def proc_mount(meta: Obj, spec: Obj) -> Finding:
    for path, c in _containers(spec):
        mount = _ctx(c).get("procMount")
        if mount not in (None, "Default"):
            yield f"/proc Mount Type: {path}.securityContext.procMount: {mount!r}"


def baseline_seccomp(meta: Obj, spec: Obj) -> Finding:
    pod = _get(spec, "securityContext.seccompProfile.type")
    if pod == "Unconfined":
        yield "Seccomp: spec.securityContext.seccompProfile.type: 'Unconfined'"
    for path, c in _containers(spec):
        if _get(_ctx(c), "seccompProfile.type") == "Unconfined":
            yield f"Seccomp: {path}.securityContext.seccompProfile.type: 'Unconfined'"


def sysctls(meta: Obj, spec: Obj) -> Finding:
    for i, sysctl in enumerate(_get(spec, "securityContext.sysctls") or []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            yield f"Sysctls: spec.securityContext.sysctls[{i}].name: {sysctl.get('name')!r}"


def volume_types(meta: Obj, spec: Obj) -> Finding:
    for i, volume in enumerate(spec.get("volumes") or []):
        kinds = {k for k, v in volume.items() if k != "name" and v is not None}
        if not kinds or not kinds <= RESTRICTED_VOLUMES:
            yield f"Volume Types: spec.volumes[{i}]: {sorted(kinds - RESTRICTED_VOLUMES)}"


def privilege_escalation(meta: Obj, spec: Obj) -> Finding:
    for path, c in _containers(spec):
        if _ctx(c).get("allowPrivilegeEscalation") is not False:
            value = _ctx(c).get("allowPrivilegeEscalation")
            field = f"{path}.securityContext.allowPrivilegeEscalation"
            yield f"Privilege Escalation: {field}: {value!r}"


def run_as_non_root(meta: Obj, spec: Obj) -> Finding:
    pod = _get(spec, "securityContext.runAsNonRoot")
    for path, c in _containers(spec):
        own = _ctx(c).get("runAsNonRoot")
        if own is False or (own is None and pod is not True):
            field = f"{path}.securityContext.runAsNonRoot"
            yield f"Running as Non-root: {field}: {own!r} (pod: {pod!r})"


def run_as_user(meta: Obj, spec: Obj) -> Finding:
    if _get(spec, "securityContext.runAsUser") == 0:
        yield "Running as Non-root user: spec.securityContext.runAsUser: 0"
    for path, c in _containers(spec):
        if _ctx(c).get("runAsUser") == 0:
            yield f"Running as Non-root user: {path}.securityContext.runAsUser: 0"


def restricted_seccomp(meta: Obj, spec: Obj) -> Finding:
    pod = _get(spec, "securityContext.seccompProfile.type")
    for path, c in _containers(spec):
        effective = _get(_ctx(c), "seccompProfile.type") or pod
        if effective not in CONFINED:
            yield f"Seccomp: {path}: effective seccompProfile.type {effective!r}"


def restricted_capabilities(meta: Obj, spec: Obj) -> Finding:
    for path, c in _containers(spec):
        caps = _ctx(c).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            yield f"Capabilities: {path}.securityContext.capabilities.drop lacks ALL"
        extra = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if extra:
            yield f"Capabilities: {path}.securityContext.capabilities.add: {sorted(extra)}"


Control = Callable[[Obj, Obj], Finding]
BASELINE: tuple[Control, ...] = (
    host_process, host_namespaces, privileged, baseline_capabilities, host_path, host_ports,
    host_probes, apparmor, selinux, proc_mount, baseline_seccomp, sysctls,
)  # fmt: skip
RESTRICTED: tuple[Control, ...] = (volume_types, run_as_non_root, run_as_user)
LINUX_ONLY: tuple[Control, ...] = (
    privilege_escalation,
    restricted_seccomp,
    restricted_capabilities,
)


def violations(obj: Obj) -> list[str]:
    """Every field of ``obj``'s pod that breaks the restricted profile; [] when it passes."""
    pod = pod_of(obj)
    if pod is None:
        return []
    meta, spec = pod
    controls = BASELINE + RESTRICTED
    if _get(spec, "os.name") != "windows":
        controls += LINUX_ONLY
    return [line for control in controls for line in control(meta, spec)]
