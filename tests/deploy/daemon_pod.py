"""What the daemon needs from its pod, read from a rendered Deployment (docs/daemon.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.deploy.renders import Obj


@dataclass(frozen=True)
class DaemonPod:
    """The Deployment's pod spec, its one container and the flags the container passes."""

    spec: Obj
    container: Obj
    flags: dict[str, str]

    @classmethod
    def of(cls, deployment: Obj) -> DaemonPod:
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        args = container["args"]
        assert args[0] == "run", args
        flags: dict[str, str] = {}
        for arg in args[1:]:
            name, sep, value = arg.partition("=")
            assert name.startswith("--") and sep, f"flags are passed as --name=value: {arg!r}"
            assert name not in flags, f"{name} given twice"
            flags[name] = value
        return cls(spec=spec, container=container, flags=flags)

    def mounts(self) -> dict[str, Obj]:
        return {m["mountPath"]: m for m in self.container.get("volumeMounts") or []}

    def volume(self, name: str) -> Obj:
        (found,) = [v for v in self.spec.get("volumes") or [] if v["name"] == name]
        return found

    def volume_at(self, path: str) -> Obj:
        return self.volume(self.mounts()[path]["name"])

    def port(self, name: str) -> int:
        (found,) = [p for p in self.container["ports"] if p["name"] == name]
        return int(found["containerPort"])


def secret_sources(volume: Obj) -> list[Any]:
    """The Secrets a volume brings: a secret volume's, or a projected volume's secret parts."""
    if "secret" in volume:
        return [volume["secret"]]
    return [
        s["secret"] for s in (volume.get("projected") or {}).get("sources", []) if "secret" in s
    ]
