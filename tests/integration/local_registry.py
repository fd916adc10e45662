"""A real OCI registry (Debian ``docker-registry``) on a loopback port, and a tag pusher.

Used by the reconcile tests, ``make demo`` and ``bench/reconcile.py``; it fails loudly when
the registry cannot start (never skips). Pushing needs no docker: one tiny config blob, one
layer blob, then a manifest PUT under each tag (TESTBED.md).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
CONFIG = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalRegistry:
    """``docker-registry serve`` with our own config; ``host`` is ``127.0.0.1:PORT``."""

    def __init__(self, directory: Path | None = None) -> None:
        self._own = directory is None
        base = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="ia-registry-", dir=base))
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, *, detached: bool = False) -> LocalRegistry:
        """Start and wait until it answers; ``detached``: in its own session, so it outlives
        this process (``demo/local_fleet.py`` leaves it running for the user)."""
        binary = shutil.which("docker-registry")
        if binary is None:
            raise RuntimeError("docker-registry is not installed (run `make sysdeps`)")
        config = self.directory / "config.yml"
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        config.write_text(CONFIG.format(root=self.directory / "data", port=self.port))
        with (self.directory / "registry.log").open("wb") as log_file:
            self._proc = subprocess.Popen(
                [binary, "serve", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=log_file,
                stdin=subprocess.DEVNULL,
                start_new_session=detached,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                log = (self.directory / "registry.log").read_text(errors="replace")
                raise RuntimeError(f"docker-registry exited: {log[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1):
                    return self
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.02)
        self.stop()
        raise RuntimeError("docker-registry did not answer within 20 s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._own:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> LocalRegistry:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- pushing ----------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, data: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str]]:
        req = urllib.request.Request(
            f"http://{self.host}{path}", data=data or None, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers)
        except urllib.error.HTTPError as exc:
            if method == "HEAD" and exc.code == 404:
                return 404, {}
            raise AssertionError(f"{method} {path}: HTTP {exc.code} {exc.read()[:300]!r}") from exc

    def _blob(self, repository: str, data: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        status, _ = self._request("HEAD", f"/v2/{repository}/blobs/{digest}")
        if status == 200:
            return digest
        _, headers = self._request("POST", f"/v2/{repository}/blobs/uploads/")
        location = headers["Location"]
        location = location.split(self.host, 1)[-1]
        sep = "&" if "?" in location else "?"
        self._request(
            "PUT",
            f"{location}{sep}digest={digest}",
            data,
            {"Content-Type": "application/octet-stream"},
        )
        return digest

    def push(self, repository: str, *tags: str) -> list[str]:
        """Push a tiny distinct image under each tag; returns the manifest digests."""
        digests = []
        for tag in tags:
            config = json.dumps(
                {"architecture": "amd64", "os": "linux", "config": {"Labels": {"tag": tag}}}
            ).encode()
            layer = f"layer of {repository}:{tag}".encode()
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": MANIFEST_TYPE,
                    "config": {
                        "mediaType": "application/vnd.oci.image.config.v1+json",
                        "digest": self._blob(repository, config),
                        "size": len(config),
                    },
                    "layers": [
                        {
                            "mediaType": "application/vnd.oci.image.layer.v1.tar",
                            "digest": self._blob(repository, layer),
                            "size": len(layer),
                        }
                    ],
                }
            ).encode()
            self._request(
                "PUT",
                f"/v2/{repository}/manifests/{tag}",
                manifest,
                {"Content-Type": MANIFEST_TYPE},
            )
            digests.append("sha256:" + hashlib.sha256(manifest).hexdigest())
        return digests
