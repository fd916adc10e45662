"""A fleet to run the daemon against on this machine: a local registry and a bare git remote.

``.venv/bin/python demo/local_fleet.py DIR`` (the README's daemon recipe) starts Debian's
``docker-registry`` on a free loopback port, detached so that it outlives this script (its
pid is in ``DIR/registry.pid``; ``kill $(cat DIR/registry.pid)`` stops it), pushes
``demo/app:1.0.0`` and ``1.1.0``, and creates the bare repository ``DIR/fleet.git`` with what
``make demo`` uses (a Deployment at ``demo/app:1.0.0``, a Flux ImageRepository + ImagePolicy,
the native automation of ``policies/native/automation.yaml``) plus a ``generic-hmac``
Receiver ``apps/app-pushed`` whose token is the secret ``hook-token``. Nothing outside the
machine is contacted. Exit 1 when ``DIR`` already holds a fleet.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo.run import fleet  # noqa: E402
from tests.integration.git_fixtures import make_remote  # noqa: E402
from tests.integration.local_registry import LocalRegistry  # noqa: E402

RECEIVER = """\
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: app-pushed, namespace: apps}
spec:
  type: generic-hmac
  secretRef: {name: hook-token}   # token in $SECRETS_DIR/hook-token/token
  resources:
    - {kind: ImageRepository, name: demo-app}
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", type=Path, help="where the registry data and fleet.git go")
    root = parser.parse_args(argv).dir.absolute()
    if (root / "fleet.git").exists():
        stop = f"kill $(cat {root}/registry.pid)"
        print(f"{root} already holds a fleet; stop its registry ({stop}), remove it, retry",
              file=sys.stderr)  # fmt: skip
        return 1
    root.mkdir(parents=True, exist_ok=True)
    registry = LocalRegistry(root / "registry").start(detached=True)
    try:
        registry.push("demo/app", "1.0.0", "1.1.0")
        files = {**fleet(f"{registry.host}/demo/app"), "automation/receiver.yaml": RECEIVER}
        remote = make_remote(root / "fleet.git", files)
    except BaseException:
        registry.stop()
        raise
    (root / "registry.pid").write_text(f"{registry.pid}\n")
    print(f"registry {registry.host} holds demo/app:1.0.0 and 1.1.0 "
          f"(pid {registry.pid}; stop it: kill $(cat {root}/registry.pid))")  # fmt: skip
    print(f"git remote {remote.url} (the Deployment is at 1.0.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
