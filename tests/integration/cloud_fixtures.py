"""Local stand-ins for the clouds' identity services, each met by the real vendor library.

- :class:`MotoEcr`: moto in server mode (the ECR and STS APIs boto3 calls), behind a counting
  forwarder so a test can tell how many ``GetAuthorizationToken`` calls our code made and
  with which signing key and region.
- :class:`GceMetadata`: the GCE/GKE metadata server google-auth's ADC asks
  (``GCE_METADATA_IP`` for its ping, ``GCE_METADATA_HOST`` for the rest; both needed).
- :class:`GoogleKeyFile`: a service-account key file whose ``token_uri`` is a local token
  endpoint that checks the RS256 assertion google-auth signs with the key.
- :class:`EntraStandIn`: Entra ID's token endpoint (HTTPS: azure-identity refuses a plain
  authority) and the managed identity endpoints (App Service's ``IDENTITY_ENDPOINT``, the VM's
  IMDS) over plain HTTP.

Every token they issue is registered in :data:`SECRETS` (the leak check greps for them) and
handed to ``on_token`` so the registry's token server accepts it.
"""

from __future__ import annotations

import json
import secrets
import socket
import time
from collections.abc import Callable
from pathlib import Path

import boto3
import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.server import ThreadedMotoServer

import image_automation.registry._cloud_aws  # noqa: F401  (holds botocore's loggers at INFO)
from tests.integration.fixture_base import SECRETS, CertificateAuthority
from tests.integration.stub_server import Answer, Seen, StubServer

ECR_TOKEN_TARGET = "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
ACR_SCOPE = "https://containerregistry.azure.net/.default"
ACR_RESOURCE = "https://containerregistry.azure.net"


def _secret(prefix: str) -> str:
    value = f"{prefix}{secrets.token_hex(16)}"
    SECRETS.add(value)
    return value


# --- AWS -------------------------------------------------------------------------------------


class MotoEcr:
    """moto's ECR/STS with a counting forwarder in front; point boto3 at :attr:`url`."""

    ACCESS_KEY = "AKIAENVKEY0000000001"
    SECRET_KEY = "env-secret-" + secrets.token_hex(8)

    def __init__(self) -> None:
        SECRETS.add(self.SECRET_KEY)
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.moto_url = f"http://{host}:{port}"
        self._front = StubServer(self._forward).start()
        self.url = self._front.url

    def stop(self) -> None:
        self._front.stop()
        self._moto.stop()

    def _forward(self, seen: Seen) -> Answer:
        headers = {k: v for k, v in seen.headers.items() if k not in {"host", "content-length"}}
        response = httpx.request(
            seen.method, self.moto_url + seen.path, params=seen.query, headers=headers,
            content=seen.body, timeout=30,
        )  # fmt: skip
        kept = {"Content-Type": response.headers.get("content-type", "application/json")}
        return Answer(response.status_code, response.content, kept)

    def token_calls(self) -> list[Seen]:
        """The ``GetAuthorizationToken`` requests our code sent (signed by boto3)."""
        return [
            r for r in self._front.requests if r.headers.get("x-amz-target") == ECR_TOKEN_TARGET
        ]

    def sts_actions(self) -> list[str]:
        return [r.form.get("Action", "") for r in self._front.requests if b"Action=" in r.body]

    def env(self, *, keys: bool = True, region: str = "us-east-1") -> dict[str, str]:
        """Environment for boto3's chain: static keys (``keys``) and our endpoints."""
        env = {
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL_ECR": self.url,
            "AWS_ENDPOINT_URL_STS": self.url,
        }
        if keys:
            env |= {"AWS_ACCESS_KEY_ID": self.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": self.SECRET_KEY}
        return env

    def issued_password(self, account: str | None = None) -> str:
        """What moto hands out for ``account``, asked directly (not counted): the password
        the registry's token server is told to accept, as ECR's would."""
        client = boto3.client(
            "ecr", region_name="us-east-1", endpoint_url=self.moto_url,
            aws_access_key_id="test", aws_secret_access_key="test",
        )  # fmt: skip
        arguments = {"registryIds": [account]} if account else {}
        data = client.get_authorization_token(**arguments)["authorizationData"][0]
        import base64

        password = base64.b64decode(data["authorizationToken"]).decode().partition(":")[2]
        SECRETS.add(password)
        SECRETS.add(data["authorizationToken"])
        return password


# --- Google ----------------------------------------------------------------------------------

_FLAVOR = {"Metadata-Flavor": "Google"}


class GceMetadata:
    """The metadata server: ping, project id, the default service account, its tokens.

    It serves on ``sock``, the address ``GCE_METADATA_HOST`` named before google-auth was
    imported (see tests/conftest.py), so one instance serves the whole session.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.on_token: Callable[[str], None] = lambda token: None
        self.expires_in = 3599
        self.server = StubServer(self._handle, sock=sock).start()

    def stop(self) -> None:
        self.server.stop()

    def token_requests(self) -> int:
        return len(self.server.seen(f"{_ACCOUNT}token"))

    def _handle(self, seen: Seen) -> Answer:
        if seen.headers.get("metadata-flavor") != "Google":
            return Answer(403, "missing Metadata-Flavor")
        if seen.path == "/":
            return Answer(200, "", _FLAVOR)
        if seen.path == "/computeMetadata/v1/project/project-id":
            return Answer(200, "local-project", {**_FLAVOR, "Content-Type": "text/plain"})
        if seen.path == _ACCOUNT:
            scopes = ["https://www.googleapis.com/auth/cloud-platform"]
            body = {"email": "scanner@local-project.iam.gserviceaccount.com", "scopes": scopes,
                    "aliases": ["default"]}  # fmt: skip
            return Answer(200, body, _FLAVOR)
        if seen.path == f"{_ACCOUNT}token":
            token = _secret("ya29.metadata-")
            self.on_token(token)
            body = {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}
            return Answer(200, body, _FLAVOR)
        return Answer(404, "not here", _FLAVOR)


_ACCOUNT = "/computeMetadata/v1/instance/service-accounts/default/"


class GoogleKeyFile:
    """A service-account key whose token endpoint is ours and checks the signed assertion."""

    def __init__(self, directory: Path, on_token: Callable[[str], None]) -> None:
        self.on_token = on_token
        self.email = "scanner@local-project.iam.gserviceaccount.com"
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        SECRETS.add(pem.splitlines()[1])  # a line of the key: enough to spot a leak
        self.server = StubServer(self._handle).start()
        self.path = directory / "service-account.json"
        self.path.write_text(json.dumps({
            "type": "service_account", "project_id": "local-project", "private_key_id": "k1",
            "private_key": pem, "client_email": self.email, "client_id": "1",
            "token_uri": f"{self.server.url}/token",
        }))  # fmt: skip
        self.assertions: list[dict[str, object]] = []

    def stop(self) -> None:
        self.server.stop()

    def _handle(self, seen: Seen) -> Answer:
        form = seen.form
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Answer(400, {"error": "unsupported_grant_type"})
        try:  # signed with the key file's private key, or refused
            claims = jwt.decode(form.get("assertion", ""), self._key.public_key(),
                                algorithms=["RS256"], options={"verify_aud": False})  # fmt: skip
        except jwt.PyJWTError:
            return Answer(400, {"error": "invalid_grant"})
        if claims.get("iss") != self.email:
            return Answer(400, {"error": "invalid_grant"})
        self.assertions.append(claims)
        token = _secret("ya29.key-file-")
        self.on_token(token)
        return Answer(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})


# --- Azure -----------------------------------------------------------------------------------


class EntraStandIn:
    """Entra ID (HTTPS authority) and managed identity endpoints (plain HTTP) for ACR tokens.

    Access tokens are JWTs carrying ``tid`` (the tenant) as Entra's do; each goes to
    ``on_token`` (the ACR front's ``entra_tokens``) and :data:`SECRETS`.
    """

    def __init__(self, ca: CertificateAuthority, on_token: Callable[[str], None]) -> None:
        self.on_token = on_token
        self.ca = ca
        self.tenant = "tenant-" + secrets.token_hex(4)
        self.client_id = "client-" + secrets.token_hex(4)
        self.client_secret = _secret("entra-client-secret-")
        self.identity_header = _secret("identity-header-")
        self.federated_token = _secret("federated-sa-token-")
        self._signing = secrets.token_bytes(32)
        self.issued: list[str] = []
        self.authority = StubServer(self._authority, tls=ca, host_name="localhost").start()
        self.identity = StubServer(self._identity).start()

    def stop(self) -> None:
        self.authority.stop()
        self.identity.stop()

    def _token(self) -> tuple[str, int]:
        expires = int(time.time()) + 3599
        claims = {
            "tid": self.tenant,
            "aud": ACR_RESOURCE,
            "exp": expires,
            "jti": secrets.token_hex(8),
        }
        token = jwt.encode(claims, self._signing, algorithm="HS256")
        SECRETS.add(token)
        self.issued.append(token)
        self.on_token(token)
        return token, expires

    def _authority(self, seen: Seen) -> Answer:
        base = f"{self.authority.url}/{self.tenant}"
        if seen.path == f"/{self.tenant}/v2.0/.well-known/openid-configuration":
            return Answer(200, {
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token", "issuer": f"{base}/v2.0",
            })  # fmt: skip
        if seen.path != f"/{self.tenant}/oauth2/v2.0/token":
            return Answer(404, {"error": "not_found"})
        form = seen.form
        secret_ok = form.get("client_secret") == self.client_secret
        assertion_ok = form.get("client_assertion", "").strip() == self.federated_token
        if form.get("client_id") != self.client_id or not (secret_ok or assertion_ok):
            return Answer(401, {"error": "invalid_client"})
        if form.get("scope") != ACR_SCOPE:
            return Answer(400, {"error": "invalid_scope"})
        token, _ = self._token()
        return Answer(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _identity(self, seen: Seen) -> Answer:
        resource = (seen.query.get("resource") or [""])[0]
        if resource != ACR_RESOURCE:
            return Answer(400, {"error": "invalid_resource"})
        if seen.path == "/msi/token":  # App Service / Functions (IDENTITY_ENDPOINT)
            if seen.headers.get("x-identity-header") != self.identity_header:
                return Answer(401, {"error": "bad identity header"})
        elif seen.path == "/metadata/identity/oauth2/token":  # a VM's IMDS
            if seen.headers.get("metadata") != "true":
                return Answer(400, {"error": "Metadata header required"})
        else:
            return Answer(404, {"error": "not_found"})
        token, expires = self._token()
        return Answer(200, {"access_token": token, "expires_on": str(expires),
                            "expires_in": "3599", "resource": resource,
                            "token_type": "Bearer"})  # fmt: skip

    def env_app_service(self) -> dict[str, str]:
        return {"IDENTITY_ENDPOINT": f"{self.identity.url}/msi/token",
                "IDENTITY_HEADER": self.identity_header}  # fmt: skip

    def env_imds(self) -> dict[str, str]:
        return {"AZURE_POD_IDENTITY_AUTHORITY_HOST": self.identity.url}

    def _authority_env(self) -> dict[str, str]:
        return {"AZURE_TENANT_ID": self.tenant, "AZURE_CLIENT_ID": self.client_id,
                "AZURE_AUTHORITY_HOST": self.authority.url,
                "REQUESTS_CA_BUNDLE": str(self.ca.ca_file)}  # fmt: skip

    def env_workload_identity(self, directory: Path) -> dict[str, str]:
        token_file = directory / "azure-identity-token"
        token_file.write_text(self.federated_token + "\n")  # kubelet's projected file
        return self._authority_env() | {"AZURE_FEDERATED_TOKEN_FILE": str(token_file)}

    def env_client_secret(self) -> dict[str, str]:
        return self._authority_env() | {"AZURE_CLIENT_SECRET": self.client_secret}
