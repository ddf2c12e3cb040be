"""OAuth2 client credentials (secret or certificate) posted straight to the token URL, token reuse, HTTP sessions."""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import orjson
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from huntvault.errors import ConfigError, RemoteConfigError, RemoteUnavailable

#: A token is renewed this long before it expires; if the renewal fails for a transient reason the
#: current token is used until it really expires, so a token-endpoint outage shorter than this is invisible.
RENEW_BEFORE_SECONDS = 300.0
_AADSTS = re.compile(r"AADSTS\d+")
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class CredentialSection(Protocol):
    """What a config section with client credentials has ([forward.defender] and logs-ingestion sinks)."""

    authority: str
    tenant_id: str
    client_id: str
    client_secret: str
    certificate_path: str
    certificate_thumbprint: str
    token_url: str
    secret_env: str
    scope: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def check_url(value: str, setting: str, what: str) -> str:
    """`value` as an http(s) URL without a trailing slash, or a ConfigError naming `setting`."""
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(setting, f"{value!r} is not an https:// URL of the {what}")
    return value.rstrip("/")


# -- sessions ----------------------------------------------------------------------------------------


def proxy_setting(value: str, setting: str) -> str:
    """Validate a `proxy` setting: "", "none" or http(s)://host:port without credentials in the file."""
    if value in ("", "none"):
        return value
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ConfigError(setting, f"{value!r} is not a proxy URL like http://proxy.example:3128 (or none)")
    if parsed.username or parsed.password:
        raise ConfigError(setting, "proxy credentials are secrets: put them in HTTPS_PROXY, not in the file")
    return value


class HttpSession(requests.Session):
    """A requests session that trusts only its own CA setting and picks the proxy per URL.

    `trust_env` is off, so a configured `ca_bundle` is really used even where REQUESTS_CA_BUNDLE is
    set (it would override `verify=`); proxies are then resolved here: the `proxy` setting if given
    ("none" = direct), else HTTPS_PROXY / HTTP_PROXY / ALL_PROXY from the environment; NO_PROXY is
    honoured in both cases.
    """

    def __init__(
        self, ca_bundle: str = "", proxy: str = "", user_agent: str = "huntvault-forward", setting: str = ""
    ) -> None:
        super().__init__()
        if ca_bundle and not Path(ca_bundle).is_file():
            raise ConfigError(
                f"{setting}.ca_bundle" if setting else "ca_bundle", f"{ca_bundle} is not a file"
            )
        self.trust_env = False
        self.verify = ca_bundle or True
        self.headers["User-Agent"] = user_agent
        self.proxy = proxy_setting(proxy, f"{setting}.proxy" if setting else "proxy")

    def proxies_for(self, url: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        import os

        env = os.environ if environ is None else environ
        lower = {k.lower(): v for k, v in env.items()}
        no_proxy = lower.get("no_proxy", "")
        if self.proxy == "none" or requests.utils.should_bypass_proxies(url, no_proxy=no_proxy or None):
            return {}
        scheme = urlparse(url).scheme
        chosen = self.proxy or lower.get(f"{scheme}_proxy") or lower.get("all_proxy") or ""
        return {scheme: chosen} if chosen else {}

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        text = url.decode() if isinstance(url, bytes) else url
        kwargs.setdefault("proxies", self.proxies_for(text))
        return super().request(method, url, *args, **kwargs)


def make_session(
    ca_bundle: str = "", proxy: str = "", setting: str = "", user_agent: str = "huntvault-forward"
) -> HttpSession:
    return HttpSession(ca_bundle, proxy, user_agent, setting)


# -- credentials -------------------------------------------------------------------------------------


@dataclass
class ClientCredentials:
    """Who we are and where to ask: token URL, client id, and a client secret or a PEM certificate + key."""

    token_url: str
    client_id: str
    client_secret: str = ""
    certificate_path: str = ""
    certificate_thumbprint: str = ""
    setting: str = ""  # the config section, for messages ("forward.defender", "forward.sinks.sentinel")
    secret_env: str = ""  # the variable the secret comes from, for messages

    @classmethod
    def from_config(cls, cfg: CredentialSection, setting: str, default_secret_env: str) -> ClientCredentials:
        """From a config section; checks what can be checked without the network (ConfigError names the key)."""
        if not cfg.client_id:
            raise ConfigError(f"{setting}.client_id", "required for OAuth2 client credentials")
        if cfg.token_url:
            url = check_url(cfg.token_url, f"{setting}.token_url", "token endpoint")
        else:
            if not cfg.tenant_id:
                raise ConfigError(f"{setting}.tenant_id", "required (or give token_url)")
            authority = check_url(cfg.authority, f"{setting}.authority", "Entra ID authority")
            url = f"{authority}/{cfg.tenant_id}/oauth2/v2.0/token"
        creds = cls(
            url,
            cfg.client_id,
            cfg.client_secret,
            cfg.certificate_path,
            cfg.certificate_thumbprint,
            setting,
            cfg.secret_env or default_secret_env,
        )
        if not creds.certificate_path and not creds.client_secret:
            raise ConfigError(
                creds.secret_env,
                f"no client secret for {setting} (client {cfg.client_id}): set {creds.secret_env} "
                f"or {setting}.certificate_path",
            )
        if creds.certificate_path:
            creds._signing_key()  # a broken certificate is a start-up error
        return creds

    def _signing_key(self) -> tuple[rsa.RSAPrivateKey, bytes]:
        """(private key, SHA-1 thumbprint bytes) of the PEM certificate file."""
        key_name = f"{self.setting}.certificate_path"
        try:
            pem = Path(self.certificate_path).read_bytes()
            cert = x509.load_pem_x509_certificate(pem)
            key = serialization.load_pem_private_key(pem, password=None)
        except OSError as exc:
            raise ConfigError(key_name, f"cannot read {self.certificate_path}: {exc.strerror}") from None
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                key_name, f"{self.certificate_path} needs a PEM certificate and an unencrypted key: {exc}"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ConfigError(key_name, "Entra ID client certificates must be RSA")
        if self.certificate_thumbprint:
            try:
                thumb = bytes.fromhex(self.certificate_thumbprint.replace(":", ""))
            except ValueError:
                raise ConfigError(f"{self.setting}.certificate_thumbprint", "must be hexadecimal") from None
        else:
            thumb = cert.fingerprint(hashes.SHA1())  # the x5t header is SHA-1 by spec
        return key, thumb

    def form(self, scope: str) -> dict[str, str]:
        """The token request body: client_credentials with the secret or a signed client assertion."""
        body = {"grant_type": "client_credentials", "client_id": self.client_id, "scope": scope}
        if not self.certificate_path:
            body["client_secret"] = self.client_secret
            return body
        key, thumb = self._signing_key()
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT", "x5t": _b64url(thumb)}
        claims = {
            "aud": self.token_url,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": str(uuid.uuid4()),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
        }
        signed = f"{_b64url(orjson.dumps(header))}.{_b64url(orjson.dumps(claims))}"
        signature = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        body["client_assertion_type"] = _ASSERTION_TYPE
        body["client_assertion"] = f"{signed}.{_b64url(signature)}"
        return body


#: AADSTS codes in a token error -> (what to fix, relative to the section, or a variable; explanation)
AADSTS_SETTINGS: dict[str, tuple[str, str]] = {
    "AADSTS90002": ("tenant_id", "the tenant does not exist"),
    "AADSTS90023": ("tenant_id", "the tenant or request is invalid"),
    "AADSTS700016": ("client_id", "no application with this id in the tenant (or no admin consent yet)"),
    "AADSTS7000215": ("$secret", "the client secret is wrong (use the secret's value, not its id)"),
    "AADSTS7000222": ("$secret", "the client secret has expired"),
    "AADSTS700027": ("certificate_path", "the client assertion was refused (certificate not registered?)"),
    "AADSTS700024": ("certificate_path", "the client assertion is not valid now (check the clock)"),
    "AADSTS1002012": ("scope", "the scope is not valid"),
    "AADSTS500011": ("scope", "the resource of the scope is not in the tenant"),
    "AADSTS70011": ("scope", "the scope is not valid"),
    "AADSTS7000112": ("client_id", "the application is disabled"),
}
#: OAuth2 error codes (RFC 6749 §5.2) -> what to fix, when no AADSTS code says more
OAUTH_ERROR_SETTINGS: dict[str, str] = {
    "invalid_client": "$secret",
    "unauthorized_client": "client_id",
    "invalid_tenant": "tenant_id",
    "invalid_scope": "scope",
    "invalid_grant": "$secret",
    "unsupported_grant_type": "token_url",
    "invalid_request": "token_url",
}


class TokenProvider:
    """An app-only token for one scope from one token URL, reused until RENEW_BEFORE_SECONDS before expiry.

    Errors: RemoteConfigError when the endpoint refuses the credentials (names the setting: tenant,
    client id, secret variable, certificate, scope), RemoteUnavailable when it is down, slow,
    throttled or unreachable (retried by the caller with backoff).
    """

    def __init__(
        self, creds: ClientCredentials, scope: str, session: requests.Session, timeout: float = 30.0
    ) -> None:
        self.scope = scope
        self._creds = creds
        self._session = session
        self._timeout = timeout
        self._token = ""
        self._expires = 0.0
        self._lock = threading.Lock()
        self.acquired = 0  # tokens actually issued by the endpoint
        self.requests = 0  # token requests sent (failures included)

    def invalidate(self) -> None:
        """Forget the token (after a 401) so the next call asks again."""
        with self._lock:
            self._token = ""
            self._expires = 0.0

    def token(self) -> str:
        with self._lock:
            now = time.time()
            if self._token and now < self._expires - RENEW_BEFORE_SECONDS:
                return self._token
            try:
                token, lifetime = self._request()
            except RemoteUnavailable:
                if self._token and now < self._expires - 30:
                    return self._token  # still valid: ride out the outage
                raise
            self.acquired += 1
            self._token = token
            self._expires = time.time() + lifetime
            return token

    def _request(self) -> tuple[str, float]:
        creds = self._creds
        self.requests += 1
        try:
            resp = self._session.post(creds.token_url, data=creds.form(self.scope), timeout=self._timeout)
        except requests.RequestException as exc:
            raise RemoteUnavailable(
                f"token endpoint {creds.token_url} unreachable: {type(exc).__name__}: {exc}"
            ) from None
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code == 200 and isinstance(body, dict) and body.get("access_token"):
            return str(body["access_token"]), float(body.get("expires_in", 3599))
        detail = (
            f"{body.get('error')}: {str(body.get('error_description', ''))[:300]}"
            if isinstance(body, dict) and body.get("error")
            else resp.text[:200]
        )
        message = f"token request for {self.scope} answered HTTP {resp.status_code}: {detail}"
        if resp.status_code in (429, 408) or resp.status_code >= 500 or resp.status_code == 200:
            raise RemoteUnavailable(message, _retry_after(resp))
        setting, hint = self._diagnose(body, resp.status_code)
        raise RemoteConfigError(setting, f"{hint}; {message}" if hint else message, resp.status_code)

    def _diagnose(self, body: Any, status: int) -> tuple[str, str]:
        """(the setting to fix, why) for a token request the endpoint refused."""
        creds = self._creds
        text = str(body.get("error_description", "")) if isinstance(body, dict) else ""
        code = str(body.get("error", "")) if isinstance(body, dict) else ""
        codes = [c for c in _AADSTS.findall(text) if c in AADSTS_SETTINGS]
        what, hint = AADSTS_SETTINGS[codes[0]] if codes else ("", "")
        what = what or OAUTH_ERROR_SETTINGS.get(code, "") or ("token_url" if status == 404 else "$secret")
        if what == "$secret":
            secret = f"{creds.setting}.certificate_path" if creds.certificate_path else creds.secret_env
            return secret, hint or "the token endpoint refused the client credentials"
        if what == "token_url" and not hint:
            hint = "the token endpoint did not understand the request (is token_url / authority right?)"
        return f"{creds.setting}.{what}", hint


def _retry_after(resp: requests.Response) -> float | None:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return None
