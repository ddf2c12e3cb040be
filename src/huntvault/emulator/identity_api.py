"""Emulated Entra ID token endpoint: OIDC discovery and OAuth2 client credentials (secret or certificate)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

#: Audiences (resource URIs) and the scopes that ask for them.
DEFENDER_AUDIENCE = "https://api.securitycenter.microsoft.com"
MONITOR_AUDIENCE = "https://monitor.azure.com"
SCOPES: dict[str, str] = {
    "https://api.securitycenter.microsoft.com/.default": DEFENDER_AUDIENCE,
    "https://api.securitycenter.windows.com/.default": DEFENDER_AUDIENCE,
    "https://api.security.microsoft.com/.default": DEFENDER_AUDIENCE,
    "https://securitycenter.onmicrosoft.com/windowsatpservice/.default": DEFENDER_AUDIENCE,
    "https://graph.microsoft.com/.default": "https://graph.microsoft.com",
    "https://monitor.azure.com/.default": MONITOR_AUDIENCE,
    "https://monitor.azure.com//.default": MONITOR_AUDIENCE,
}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class TokenFaults:
    """Fault injection on the token endpoint, consumed request by request."""

    down: bool = False  # every token request answers 503
    fail_next: int = 0  # the next N answer 500
    throttle_next: int = 0  # the next N answer 429 with Retry-After
    retry_after: int = 1
    slow_seconds: float = 0.0  # wait this long before answering

    def answer(self) -> tuple[int, str]:
        """(status, error) for the next token request; (0, "") = serve it."""
        if self.down:
            return 503, "temporarily_unavailable"
        if self.fail_next > 0:
            self.fail_next -= 1
            return 500, "server_error"
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return 429, "temporarily_unavailable"
        return 0, ""


@dataclass
class TokenIssuer:
    """Issues and verifies HMAC-signed opaque access tokens for registered clients of one tenant."""

    tenant_id: str
    clients: dict[str, str] = field(default_factory=dict)  # client id -> secret
    certificates: dict[str, str] = field(default_factory=dict)  # client id -> PEM certificate
    lifetime: int = 3599
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    issued: int = 0
    rejected: int = 0
    requests: int = 0  # token requests answered (any status)
    discoveries: int = 0  # OIDC discovery documents served
    faults: TokenFaults = field(default_factory=TokenFaults)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def issue(self, client_id: str, audience: str) -> str:
        claims = {
            "aud": audience,
            "appid": client_id,
            "tid": self.tenant_id,
            "exp": int(time.time()) + self.lifetime,
            "jti": secrets.token_hex(8),
        }
        body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        sig = _b64url(hmac.new(self.key, body.encode(), hashlib.sha256).digest())
        with self._lock:
            self.issued += 1
        return f"emu.{body}.{sig}"

    def verify(self, authorization: str | None, audience: str) -> dict[str, Any] | None:
        """The claims of a valid, unexpired `Bearer` token for `audience`, else None."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        parts = authorization[7:].strip().split(".")
        if len(parts) != 3 or parts[0] != "emu":
            return None
        expected = _b64url(hmac.new(self.key, parts[1].encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, parts[2]):
            return None
        claims: dict[str, Any] = json.loads(_unb64url(parts[1]))
        if (
            claims.get("aud") != audience
            or claims.get("exp", 0) < time.time()
            or claims.get("tid") != self.tenant_id
        ):
            return None
        return claims

    def check_assertion(self, client_id: str, assertion: str, token_url: str) -> str:
        """'' when the client-assertion JWT is signed by the client's registered certificate, else why not."""
        pem = self.certificates.get(client_id)
        if not pem:
            return "no certificate registered for this client"
        try:
            head_b64, body_b64, sig_b64 = assertion.split(".")
            header = json.loads(_unb64url(head_b64))
            body = json.loads(_unb64url(body_b64))
            signature = _unb64url(sig_b64)
        except ValueError:
            return "malformed client assertion"
        key = x509.load_pem_x509_certificate(pem.encode()).public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            return "only RSA certificates are supported"
        signed = f"{head_b64}.{body_b64}".encode()
        pad: padding.AsymmetricPadding = (
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            if header.get("alg") == "PS256"
            else padding.PKCS1v15()
        )
        try:
            key.verify(signature, signed, pad, hashes.SHA256())
        except InvalidSignature:
            return "client assertion signature does not match the registered certificate"
        if body.get("iss") != client_id or body.get("sub") != client_id:
            return "client assertion iss/sub must be the client id"
        if body.get("exp", 0) < time.time():
            return "client assertion expired"
        if body.get("aud") and body["aud"].rstrip("/") != token_url.rstrip("/"):
            return f"client assertion audience {body['aud']!r} is not this token endpoint"
        return ""


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def identity_router(issuer: TokenIssuer) -> APIRouter:
    """Routes `/{tenant}/v2.0/.well-known/openid-configuration` and `/{tenant}/oauth2/v2.0/token`."""
    router = APIRouter()

    @router.get("/{tenant}/v2.0/.well-known/openid-configuration")
    def discovery(tenant: str, request: Request) -> JSONResponse:
        issuer.discoveries += 1
        if tenant != issuer.tenant_id:
            return _error(400, "invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "issuer": f"{base}/{tenant}/v2.0",
                "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "tenant_region_scope": "EU",
            }
        )

    @router.post("/{tenant}/oauth2/v2.0/token")
    async def token(tenant: str, request: Request) -> JSONResponse:
        fields = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        with issuer._lock:
            issuer.requests += 1
            status, error = issuer.faults.answer()
            delay = issuer.faults.slow_seconds
        if delay:
            await asyncio.sleep(delay)
        if status:
            answer = _error(status, error, f"AADSTS90033: injected fault (HTTP {status})")
            if status == 429:
                answer.headers["Retry-After"] = str(issuer.faults.retry_after)
            return answer
        if tenant != issuer.tenant_id:
            issuer.rejected += 1
            return _error(400, "invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
        if fields.get("grant_type") != "client_credentials":
            return _error(400, "unsupported_grant_type", "only client_credentials is supported")
        client_id = fields.get("client_id", "")
        if client_id not in issuer.clients and client_id not in issuer.certificates:
            issuer.rejected += 1
            return _error(400, "unauthorized_client", f"AADSTS700016: Application '{client_id}' not found.")
        if "client_assertion" in fields:
            why = issuer.check_assertion(client_id, fields["client_assertion"], str(request.url))
            if why:
                issuer.rejected += 1
                return _error(401, "invalid_client", f"AADSTS700027: {why}")
        elif not hmac.compare_digest(fields.get("client_secret", ""), issuer.clients.get(client_id, "\0")):
            issuer.rejected += 1
            return _error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        scopes = [
            s for s in fields.get("scope", "").split() if s not in ("openid", "profile", "offline_access")
        ]
        if len(scopes) != 1 or scopes[0] not in SCOPES:
            return _error(
                400, "invalid_scope", f"AADSTS1002012: The provided value for scope {scopes} is not valid."
            )
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": issuer.lifetime,
                "ext_expires_in": issuer.lifetime,
                "access_token": issuer.issue(client_id, SCOPES[scopes[0]]),
            }
        )

    @router.post("/_emulator/faults/token")
    async def set_token_faults(request: Request) -> JSONResponse:
        body = json.loads(await request.body() or b"{}")
        with issuer._lock:
            for key, value in body.items():
                if not hasattr(issuer.faults, key):
                    return JSONResponse({"error": f"unknown fault {key!r}"}, status_code=400)
                setattr(issuer.faults, key, type(getattr(issuer.faults, key))(value))
            return JSONResponse(dict(issuer.faults.__dict__))

    return router
