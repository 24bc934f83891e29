"""The two credentials the API takes, as OpenAPI security schemes.

Both travel as ``Authorization: Bearer <credential>``; routes declare
``security=AUTHENTICATED`` beside the guard that checks them.
"""

from __future__ import annotations

from litestar.openapi.spec import SecurityRequirement, SecurityScheme

SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    "accessToken": SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description="An access token from `POST /api/auth/login` or `/api/auth/refresh`.",
    ),
    "apiKey": SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="sk_live_…",
        description="An API key from `POST /api/auth/api-keys`, sent as the bearer token.",
    ),
}

AUTHENTICATED: list[SecurityRequirement] = [{"accessToken": []}, {"apiKey": []}]
"""Either credential is accepted; what it may do is its permissions' business."""
