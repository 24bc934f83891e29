"""Which server a command talks to, and with which credential.

``SCHEDULER_URL`` overrides the stored URL and ``SCHEDULER_API_KEY`` the stored
login, for CI jobs that keep no state. A stored login is only ever sent to
the server it was made with: pointing ``SCHEDULER_URL`` elsewhere needs a
login (or a key) there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from cli.client import LOGIN_HINT, ApiClient
from cli.credentials import CredentialStore, config_dir
from cli.errors import CliError

DEFAULT_URL = "http://127.0.0.1:8080"


def normalise_url(url: str) -> str:
    """``url`` without trailing slashes, ``http://`` added when it names no scheme."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CliError(f"{url!r} is not an http:// or https:// URL of the scheduler")
    return url


def store_of(env: Mapping[str, str] | None = None) -> CredentialStore:
    return CredentialStore(config_dir(os.environ if env is None else env))


def connect(env: Mapping[str, str] | None = None) -> ApiClient:
    """A client of the configured server with the configured credential."""
    env = os.environ if env is None else env
    store = store_of(env)
    api_key = env.get("SCHEDULER_API_KEY", "").strip() or None
    override = env.get("SCHEDULER_URL", "").strip()
    if api_key is not None:
        stored_url = None if override else _stored_url(store)
        return ApiClient(normalise_url(override or stored_url or DEFAULT_URL), api_key=api_key)
    credentials = store.load()
    url = normalise_url(override or (credentials.url if credentials else DEFAULT_URL))
    if credentials is None:
        raise CliError(f"not logged in to {url}", hint=LOGIN_HINT)
    if credentials.url != url:
        raise CliError(
            f"the stored login is for {credentials.url}, not {url}",
            hint=f"run `scheduler login --url {url}` (or set SCHEDULER_API_KEY)",
        )
    return ApiClient(url, store=store, credentials=credentials)


def _stored_url(store: CredentialStore) -> str | None:
    try:
        credentials = store.load()
    except CliError:
        return None
    return credentials.url if credentials else None
