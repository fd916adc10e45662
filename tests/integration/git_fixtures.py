"""Real git remotes for integration tests: file://, smart HTTP and SSH. Reusable by any suite.

Import the pytest fixtures into a ``conftest.py``::

    from tests.integration.git_fixtures import git_remote, http_git_server, ssh_git_server

- ``git_remote`` -> :class:`GitRemote`: a bare repo (branch ``main``, seeded with
  ``deploy/app.yaml``) over ``file://``; ``remote.commit_files({...})`` lands a commit the way
  another actor would (plumbing on the bare repo, compare-and-swap on the ref).
- ``http_git_server`` -> :class:`HttpGitServer`: ``git http-backend`` as CGI behind an aiohttp
  app in its own thread, Basic auth (``username``/``password``) or ``Bearer token``; a wrong
  or missing credential gets 401, ``Bearer read_only_token`` may fetch but gets 403 on push;
  ``server.url_for(remote)``; ``server.requests`` records what clients sent.
- ``ssh_git_server`` -> :class:`SshGitServer`: Debian ``/usr/sbin/sshd`` as a plain process on
  a loopback port with its own host key; ``server.identity`` / ``server.known_hosts`` are the
  client key and host line; ``server.url_for(remote)``.
- ``make_ssh_key`` / ``make_gpg_key``: throwaway signing keys.

A fixture that cannot start its component fails loudly (never skips).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import getpass
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from tests.integration.fixture_base import SECRETS

SEED_FILES = {
    "deploy/app.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: prod\n"
        "spec:\n  template:\n    spec:\n      containers:\n        - name: app\n"
        '          image: registry.local/app:1.0.0 # {"$imagepolicy": "flux-system:app"}\n'
    ),
    "README.md": "fixture repository\n",
}


def run_git(*args: str, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> str:
    """Run git, fail with its stderr; returns stdout."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author: str
    subject: str
    body: str


@dataclass
class GitRemote:
    """A bare repository on disk."""

    path: Path

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        return run_git("--git-dir", str(self.path), *args, env=env)

    def head(self, branch: str = "main") -> str:
        return self.git("rev-parse", f"refs/heads/{branch}").strip()

    def has_branch(self, branch: str) -> bool:
        out = self.git("for-each-ref", "--format=%(refname)", f"refs/heads/{branch}")
        return bool(out.strip())

    def commits(self, ref: str = "main") -> list[Commit]:
        """Newest first."""
        fmt = "%H%x1f%P%x1f%an <%ae>%x1f%s%x1f%B%x1e"
        out = self.git("log", f"--format={fmt}", ref)
        commits = []
        for record in out.split("\x1e"):
            if not record.strip():
                continue
            sha, parents, author, subject, body = record.strip("\n").split("\x1f")
            commits.append(Commit(sha, tuple(parents.split()), author, subject, body))
        return commits

    def read(self, path: str, ref: str = "main") -> str:
        return self.git("show", f"{ref}:{path}")

    def commit_files(
        self, files: Mapping[str, str], message: str, branch: str = "main", *, base: str = ""
    ) -> str:
        """Land a commit on ``branch`` without a clone, as another writer would.

        A missing ``branch`` is created from ``main`` (or ``base``).
        """
        parent = base or self.head(branch if self.has_branch(branch) else "main")
        index = self.path / f"tmp-index-{os.getpid()}-{threading.get_ident()}"
        env = {
            "GIT_INDEX_FILE": str(index),
            "GIT_AUTHOR_NAME": "Someone Else",
            "GIT_AUTHOR_EMAIL": "else@example.test",
            "GIT_COMMITTER_NAME": "Someone Else",
            "GIT_COMMITTER_EMAIL": "else@example.test",
        }
        try:
            self.git("read-tree", parent, env=env)
            for name, text in files.items():
                blob = subprocess.run(
                    ["git", "--git-dir", str(self.path), "hash-object", "-w", "--stdin"],
                    input=text,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
                self.git("update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
            tree = self.git("write-tree", env=env).strip()
            sha = self.git("commit-tree", tree, "-p", parent, "-m", message, env=env).strip()
        finally:
            index.unlink(missing_ok=True)
        old = self.head(branch) if self.has_branch(branch) else ""
        self.git("update-ref", f"refs/heads/{branch}", sha, old or "0" * 40)
        return sha


def make_remote(
    path: Path, files: Mapping[str, str] = SEED_FILES, branch: str = "main"
) -> GitRemote:
    """Create a bare repo at ``path`` whose ``branch`` has one commit holding ``files``."""
    run_git("init", "--quiet", "--bare", "--initial-branch", branch, str(path))
    remote = GitRemote(path)
    env = {
        "GIT_INDEX_FILE": str(path / "seed-index"),
        "GIT_AUTHOR_NAME": "Seeder",
        "GIT_AUTHOR_EMAIL": "seed@example.test",
        "GIT_COMMITTER_NAME": "Seeder",
        "GIT_COMMITTER_EMAIL": "seed@example.test",
    }
    for name, text in files.items():
        blob = subprocess.run(
            ["git", "--git-dir", str(path), "hash-object", "-w", "--stdin"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        remote.git("update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
    tree = remote.git("write-tree", env=env).strip()
    sha = remote.git("commit-tree", tree, "-m", "Initial commit", env=env).strip()
    (path / "seed-index").unlink()
    remote.git("update-ref", f"refs/heads/{branch}", sha)
    # Let http-backend serve it even when the test process user differs from the owner.
    remote.git("config", "http.receivepack", "true")
    return remote


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SeenRequest:
    method: str
    path_qs: str
    headers: dict[str, str]


@dataclass
class HttpGitServer:
    """Smart HTTP: aiohttp app in a thread that runs ``git http-backend`` per request."""

    root: Path
    username: str = "automation"
    password: str = "pw-Secr3t-for-http-only"
    token: str = "tok-Secr3t-bearer-value"
    read_only_token: str = "tok-Secr3t-read-only"
    requests: list[SeenRequest] = field(default_factory=list)
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    def url_for(self, remote: GitRemote) -> str:
        return f"http://127.0.0.1:{self.port}/{remote.path.relative_to(self.root)}"

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(15) or self._error is not None or not self.port:
            raise RuntimeError(f"git http server did not start: {self._error!r}")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)

    def _run(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve(ready))
        except BaseException as exc:  # reported to start()
            self._error = exc
            ready.set()

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(runner.addresses[0][1])
        ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def _user(self, header: str | None) -> str | None:
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return {self.token: "token-user", self.read_only_token: "reader"}.get(value)
        if scheme.lower() == "basic":
            try:
                user, _, pw = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return None
            return user if (user, pw) == (self.username, self.password) else None
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(SeenRequest(request.method, request.path_qs, dict(request.headers)))
        user = self._user(request.headers.get("Authorization"))
        if user is None:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="git"'})
        if user == "reader" and "git-receive-pack" in request.path_qs:
            return web.Response(status=403, text="read-only token\n")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": request.path,
            "REQUEST_METHOD": request.method,
            "QUERY_STRING": request.query_string,
            "REMOTE_USER": user,
            "REMOTE_ADDR": request.remote or "127.0.0.1",
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        for header, var in (
            ("Content-Length", "CONTENT_LENGTH"),
            ("Content-Encoding", "HTTP_CONTENT_ENCODING"),
            ("Git-Protocol", "GIT_PROTOCOL"),
        ):
            if header in request.headers:
                env[var] = request.headers[header]
        proc = await asyncio.create_subprocess_exec(
            "git",
            "http-backend",
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdin and proc.stdout and proc.stderr

        async def feed() -> None:
            assert proc.stdin
            async for chunk in request.content.iter_chunked(1 << 16):
                proc.stdin.write(chunk)
                await proc.stdin.drain()
            proc.stdin.close()

        feeder = asyncio.ensure_future(feed())
        errors = asyncio.ensure_future(proc.stderr.read())
        status, headers = 200, {}
        while line := (await proc.stdout.readline()).rstrip(b"\r\n"):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            else:
                headers[name.strip()] = value.strip()
        response = web.StreamResponse(status=status, headers=headers)
        await response.prepare(request)
        while chunk := await proc.stdout.read(1 << 16):
            await response.write(chunk)
        await feeder
        await errors
        await proc.wait()
        await response.write_eof()
        return response


@dataclass
class SshGitServer:
    """``/usr/sbin/sshd`` on 127.0.0.1 with its own host key and one authorized client key."""

    root: Path
    port: int = 0
    identity: bytes = b""
    known_hosts: bytes = b""
    user: str = field(default_factory=getpass.getuser)
    _proc: subprocess.Popen[bytes] | None = None

    def url_for(self, remote: GitRemote) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{remote.path}"

    def start(self) -> None:
        state = self.root / "sshd"
        state.mkdir(mode=0o700)
        host_key = make_ssh_key(state / "host_ed25519")
        client_key = make_ssh_key(state / "client_ed25519")
        (state / "authorized_keys").write_bytes(client_key.with_suffix(".pub").read_bytes())
        self.identity = client_key.read_bytes()
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        log = state / "sshd.log"
        for _ in range(5):
            self.port = free_port()
            config = state / "sshd_config"
            config.write_text(
                f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
                f"PidFile {state / 'sshd.pid'}\nAuthorizedKeysFile {state / 'authorized_keys'}\n"
                "UsePAM no\nStrictModes no\nPasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
                "PermitRootLogin prohibit-password\nMaxStartups 100:30:200\nPrintMotd no\n"
                f"AllowUsers {self.user}\nLogLevel ERROR\n"
            )
            with log.open("ab") as sink:
                self._proc = subprocess.Popen(
                    ["/usr/sbin/sshd", "-D", "-e", "-f", str(config)], stderr=sink
                )
            if self._wait_ready():
                break
            self.stop()
        else:
            raise RuntimeError(f"sshd did not start: {log.read_text(errors='replace')}")
        host_pub = host_key.with_suffix(".pub").read_text().split()
        self.known_hosts = f"[127.0.0.1]:{self.port} {host_pub[0]} {host_pub[1]}\n".encode()

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock,
            ):
                if sock.recv(64).startswith(b"SSH-2.0"):
                    return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(10)
        self._proc = None


def make_ssh_key(path: Path, comment: str = "test", passphrase: str = "") -> Path:
    """Generate an ed25519 key at ``path`` (+ ``.pub``); returns ``path``."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


@dataclass(frozen=True)
class GpgKey:
    home: Path
    fingerprint: str
    secret_key_file: Path

    def close(self) -> None:
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "all"], check=False)


def make_gpg_key(
    directory: Path, uid: str = "Automation <bot@example.test>", passphrase: str = ""
) -> GpgKey:
    """An ed25519 signing key in its own GNUPGHOME, exported to a file."""
    home = directory / "gnupg"
    home.mkdir(mode=0o700)
    base = ["gpg", "--homedir", str(home), "--batch", "--pinentry-mode", "loopback"]
    subprocess.run(
        [*base, "--passphrase", passphrase, "--quick-gen-key", uid, "ed25519", "sign", "never"],
        check=True,
        capture_output=True,
    )
    listed = subprocess.run(
        [*base, "--with-colons", "--list-secret-keys"], check=True, capture_output=True, text=True
    ).stdout
    fingerprint = next(ln.split(":")[9] for ln in listed.splitlines() if ln.startswith("fpr:"))
    exported = subprocess.run(
        [*base, "--passphrase", passphrase, "--armor", "--export-secret-keys", fingerprint],
        check=True,
        capture_output=True,
    ).stdout
    key_file = directory / "signing-key.asc"
    key_file.write_bytes(exported)
    return GpgKey(home, fingerprint, key_file)


# -- pytest fixtures -------------------------------------------------------------------------


@pytest.fixture
def git_remote(tmp_path: Path) -> GitRemote:
    return make_remote(tmp_path / "remote.git")


@pytest.fixture(scope="session")
def git_server_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("git-served")


@pytest.fixture
def served_remote(git_server_root: Path, request: pytest.FixtureRequest) -> GitRemote:
    """A fresh bare repo under the servers' root (reachable over http and ssh)."""
    name = f"{request.node.name}-{os.urandom(4).hex()}".replace("[", "-").replace("]", "")
    return make_remote(git_server_root / f"{name}.git")


@pytest.fixture(scope="session")
def http_git_server(git_server_root: Path) -> Iterator[HttpGitServer]:
    if shutil.which("git") is None:
        raise RuntimeError("git is not installed (run .ci/system-deps)")
    server = HttpGitServer(git_server_root)
    SECRETS.add(server.password)  # every test's leak check now looks for them too
    SECRETS.add(server.token)
    SECRETS.add(server.read_only_token)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ssh_git_server(git_server_root: Path) -> Iterator[SshGitServer]:
    if not Path("/usr/sbin/sshd").exists():
        raise RuntimeError("/usr/sbin/sshd is missing (run .ci/system-deps)")
    server = SshGitServer(git_server_root)
    server.start()
    yield server
    server.stop()
