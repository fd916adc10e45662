"""A fleet with real history for the status tests: humans and the daemon both moved the app.

History on the remote (oldest first): the fleet at 1.0.0; a human's bump to 1.0.1 whose commit
subject is hostile HTML; then the daemon's own commit to the newest tag, 1.1.0. The registry
holds 1.0.0, 1.0.1, 1.1.0. :func:`settled` waits until the daemon has pushed and the status
API reports that push, so every page shows the same, final state.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.e2e.daemon.harness import NAMESPACE, Fleet, wait_for

HOSTILE_SUBJECT = "human: <script>alert(1)</script> bump to 1.0.1"
POLICY = f"{NAMESPACE}/app"
AUTOMATION = f"ImageUpdateAutomation/{NAMESPACE}/fleet"


def manifest(fleet: Fleet, tag: str) -> str:
    return fleet.files(scan="1h", reconcile="1h")["deploy/app.yaml"].replace(
        ":1.0.0 #", f":{tag} #"
    )


def with_history(fleet: Fleet) -> None:
    """Lay out the fleet and its history (the daemon is not started)."""
    fleet.setup(scan="1h", reconcile="1h")
    fleet.push_tags("1.0.1", "1.1.0")
    fleet.remote.commit_files({"deploy/app.yaml": manifest(fleet, "1.0.1")}, HOSTILE_SUBJECT)


def api(fleet: Fleet, path: str, **headers: str) -> Any:
    response = httpx.get(f"{fleet.url}{path}", headers=headers, timeout=10)
    response.raise_for_status()
    return response.json()


def settled(fleet: Fleet, **headers: str) -> dict[str, Any]:
    """The overview once the daemon's push shows in it (and on the remote)."""
    wait_for(lambda: fleet.deployed() == "1.1.0", "the daemon's commit on the remote")
    head = fleet.remote.head()

    def pushed() -> bool:
        automations = api(fleet, "/api/v1/status", **headers)["automations"]
        return any(a["name"] == AUTOMATION and a["last_commit"] == head for a in automations)

    wait_for(pushed, "the push in the status API")
    overview: dict[str, Any] = api(fleet, "/api/v1/status", **headers)
    return overview
