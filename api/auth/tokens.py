"""HS256 access and refresh tokens with pinned algorithm, issuer, audience and type."""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

# PyJWT imports cryptography, when it is installed, for its RSA, EC and EdDSA
# algorithms: ~10 MiB that the API would keep for good and HS256 never uses
# (cryptography still loads where something is sealed). Hidden while PyJWT
# loads, it leaves PyJWT its HMAC algorithms, less only the refusal of a
# DER-encoded key as an HMAC secret, which no str secret can be.
_HIDE_CRYPTOGRAPHY = "cryptography" not in sys.modules
if _HIDE_CRYPTOGRAPHY:
    sys.modules["cryptography"] = None  # type: ignore[assignment]
try:
    import jwt
finally:
    if _HIDE_CRYPTOGRAPHY:
        del sys.modules["cryptography"]

ALGORITHM = "HS256"
ACCESS = "access"
REFRESH = "refresh"


class TokenError(Exception):
    """The token is malformed, expired, or not of the expected type."""


@dataclass(frozen=True)
class TokenClaims:
    subject: str
    jti: str
    token_type: str
    issued_at: int
    expires_at: int
    family: str
    """Shared by an access token and the refresh token issued with it."""
    role: str = ""
    """The user's role when the token was issued; used only while the database is down."""
    generation: int = 0
    """The user's ``session_generation`` at issue: the token is void once it changed."""


@dataclass(frozen=True)
class IssuedPair:
    access_token: str
    refresh_token: str
    access: TokenClaims
    refresh: TokenClaims


class TokenService:
    def __init__(
        self, secret: str, issuer: str, audience: str, access_ttl: int, refresh_ttl: int
    ) -> None:
        self._secret = secret
        self._issuer = issuer
        self._audience = audience
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl

    @property
    def access_ttl(self) -> int:
        return self._access_ttl

    @property
    def refresh_ttl(self) -> int:
        return self._refresh_ttl

    def _encode(
        self, subject: str, token_type: str, ttl: int, family: str, role: str, generation: int
    ) -> tuple[str, TokenClaims]:
        now = int(time.time())
        claims = TokenClaims(
            subject=subject,
            jti=uuid.uuid4().hex,
            token_type=token_type,
            issued_at=now,
            expires_at=now + ttl,
            family=family,
            role=role,
            generation=generation,
        )
        payload: dict[str, Any] = {
            "rol": role,
            "gen": generation,
            "sub": subject,
            "jti": claims.jti,
            "typ": token_type,
            "fam": family,
            "iat": now,
            "exp": claims.expires_at,
            "iss": self._issuer,
            "aud": self._audience,
        }
        return jwt.encode(payload, self._secret, algorithm=ALGORITHM), claims

    def issue(
        self, subject: str, role: str, family: str | None = None, generation: int = 0
    ) -> IssuedPair:
        """A fresh access + refresh pair for ``subject`` (of its ``session_generation``)."""
        family = family or uuid.uuid4().hex
        access_token, access = self._encode(
            subject, ACCESS, self._access_ttl, family, role, generation
        )
        refresh_token, refresh = self._encode(
            subject, REFRESH, self._refresh_ttl, family, role, generation
        )
        return IssuedPair(access_token, refresh_token, access, refresh)

    def reissue_access(self, claims: TokenClaims) -> tuple[str, TokenClaims]:
        """A fresh access token of the same sign-in: subject, role, family and generation."""
        return self._encode(
            claims.subject, ACCESS, self._access_ttl, claims.family, claims.role, claims.generation
        )

    def decode(self, token: str, expected_type: str) -> TokenClaims:
        """Verify signature, expiry, issuer, audience and type; raise ``TokenError``."""
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                options={"require": ["exp", "iat", "iss", "aud", "jti", "sub", "typ"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("token has expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError(f"token is invalid: {exc}") from exc
        if payload.get("typ") != expected_type:
            raise TokenError(f"expected an {expected_type} token")
        return TokenClaims(
            subject=str(payload["sub"]),
            jti=str(payload["jti"]),
            token_type=str(payload["typ"]),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
            family=str(payload.get("fam", payload["jti"])),
            role=str(payload.get("rol", "")),
            generation=_generation(payload.get("gen", 0)),
        )


def _generation(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TokenError("token is invalid: bad session generation")
    return value
