"""OAuth2 client credentials through MSAL (secret or certificate), token reuse, and the HTTP session."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from huntvault.errors import ForwardError

#: Entra authorities MSAL knows; any other host (an emulator, a sovereign proxy) skips instance discovery.
KNOWN_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
    }
)


def make_session(ca_bundle: str = "", user_agent: str = "huntvault-forward") -> requests.Session:
    """A requests session that ignores REQUESTS_CA_BUNDLE / proxies from the environment.

    With `trust_env=False` the session's own `verify` wins, so a configured CA bundle (the emulator's
    self-signed CA) is really used; an empty bundle means the system trust store.
    """
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_bundle or True
    session.headers["User-Agent"] = user_agent
    return session


@dataclass
class ClientCredentials:
    """Who we are: tenant, client id and either a client secret or a PEM certificate with its key."""

    authority: str
    tenant_id: str
    client_id: str
    client_secret: str = ""
    certificate_path: str = ""
    certificate_thumbprint: str = ""

    @classmethod
    def from_config(cls, cfg: Any) -> ClientCredentials:
        """From any config section with authority, tenant_id, client_id, client_secret and certificate_*."""
        return cls(
            cfg.authority,
            cfg.tenant_id,
            cfg.client_id,
            cfg.client_secret,
            cfg.certificate_path,
            cfg.certificate_thumbprint,
        )

    def msal_credential(self) -> Any:
        if self.certificate_path:
            pem = Path(self.certificate_path).read_bytes()
            thumbprint = self.certificate_thumbprint
            if not thumbprint:
                cert = x509.load_pem_x509_certificate(pem)
                thumbprint = cert.fingerprint(hashes.SHA1()).hex()  # the x5t header is SHA-1 by spec
            key = serialization.load_pem_private_key(pem, password=None)
            key_pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
            return {"private_key": key_pem, "thumbprint": thumbprint}
        if not self.client_secret:
            raise ForwardError(
                f"no client secret or certificate for client {self.client_id!r} (set the secret's environment variable)"
            )
        return self.client_secret


class TokenProvider:
    """Acquires and reuses an app-only token for one scope; refreshes a minute before expiry."""

    def __init__(self, creds: ClientCredentials, scope: str, session: requests.Session) -> None:
        if not creds.tenant_id or not creds.client_id:
            raise ForwardError("tenant_id and client_id are required for OAuth2 client credentials")
        self.scope = scope
        self._creds = creds
        self._session = session
        self._app: msal.ConfidentialClientApplication | None = None
        self._token = ""
        self._expires = 0.0
        self._lock = threading.Lock()
        self.acquired = 0  # tokens actually requested from the authority

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            authority = f"{self._creds.authority.rstrip('/')}/{self._creds.tenant_id}"
            host = urlparse(authority).hostname or ""
            try:
                self._app = msal.ConfidentialClientApplication(
                    self._creds.client_id,
                    client_credential=self._creds.msal_credential(),
                    authority=authority,
                    http_client=self._session,
                    instance_discovery=host in KNOWN_AUTHORITY_HOSTS,
                )
            except ValueError as exc:
                raise ForwardError(f"cannot use authority {authority}: {exc}") from None
            except requests.RequestException as exc:
                raise ForwardError(f"authority {authority} unreachable: {exc}") from None
        return self._app

    def token(self) -> str:
        with self._lock:
            if self._token and time.time() < self._expires - 60:
                return self._token
            try:
                result = self._application().acquire_token_for_client(scopes=[self.scope])
            except requests.RequestException as exc:
                raise ForwardError(f"token endpoint unreachable: {exc}") from None
            if "access_token" not in result:
                raise ForwardError(
                    f"token request for {self.scope} failed: {result.get('error')}: {result.get('error_description', '')}"
                )
            self.acquired += 1
            self._token = str(result["access_token"])
            self._expires = time.time() + float(result.get("expires_in", 3599))
            return self._token

    @property
    def expires_at(self) -> float:
        return self._expires

    def invalidate(self) -> None:
        """Forget the token (after a 401) so the next call asks again."""
        with self._lock:
            self._token = ""
            self._expires = 0.0
            self._app = None  # a fresh application has an empty MSAL token cache


class AzureCoreCredential:
    """Adapter: our TokenProvider as an azure-core TokenCredential (for azure-monitor-ingestion)."""

    def __init__(self, provider: TokenProvider) -> None:
        self._provider = provider

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        token = self._provider.token()
        return AccessToken(token, int(self._provider.expires_at))
