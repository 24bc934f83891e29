"""A notification channel's configuration: its rules, and the view of it that hides secrets.

A channel's whole configuration is stored sealed; what the API shows is
``redacted``: the webhook ``secret`` and header values become ``***``, and a
URL keeps its scheme, host and first path segment (a Slack webhook URL's
token is the rest). Writing back a value exactly as shown keeps the stored
one (``keep_hidden``), so a client can change a channel it only ever read.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from domain.net_guard import BlockedAddress, check_address
from domain.notifications import SIGNATURE_HEADER, ChannelType

HIDDEN = "***"
MAX_URL_LENGTH = 2048
MAX_HEADERS = 50
MAX_RECIPIENTS = 50
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
_ADDRESS = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,253}$")
RESERVED_HEADERS = frozenset(
    name.lower()
    for name in ("Host", "Content-Length", "Content-Type", "Transfer-Encoding", SIGNATURE_HEADER)
)


class ChannelConfigError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SlackConfig:
    webhook_url: str


@dataclass(frozen=True)
class EmailConfig:
    to: list[str]


ChannelConfig = WebhookConfig | SlackConfig | EmailConfig

_KEYS = {
    ChannelType.WEBHOOK: ({"url"}, {"secret", "headers"}),
    ChannelType.SLACK: ({"webhook_url"}, set()),
    ChannelType.EMAIL: ({"to"}, set()),
}


def _string(raw: Any, name: str, max_length: int) -> str:
    if not isinstance(raw, str):
        raise ChannelConfigError(name, "must be a string")
    if not raw or len(raw) > max_length:
        raise ChannelConfigError(name, f"must be 1 to {max_length} characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in raw):
        raise ChannelConfigError(name, "must not contain control characters")
    return raw


def check_url(raw: Any, name: str, *, block_private: bool) -> str:
    """An http(s) URL whose host, when it is an address, a notification may reach."""
    url = _string(raw, name, MAX_URL_LENGTH)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ChannelConfigError(name, "must be an http or https URL")
    if not parts.hostname or " " in url:
        raise ChannelConfigError(name, "must name a host")
    try:
        parts.port  # noqa: B018 (raises on a bad port)
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError as exc:
        if "port" in str(exc).lower():
            raise ChannelConfigError(name, "has an invalid port") from exc
        return url
    try:
        check_address(literal, block_private=block_private)
    except BlockedAddress as exc:
        raise ChannelConfigError(name, str(exc)) from exc
    return url


def parse_config(kind: str, raw: Any, *, block_private: bool) -> ChannelConfig:
    """The configuration of a channel of type ``kind``; ``ChannelConfigError`` names the
    first field (``config.url``, ``config.headers.X-Token``, ...) that breaks a rule."""
    if not isinstance(raw, dict):
        raise ChannelConfigError("config", "must be an object")
    channel_type = ChannelType(kind)
    required, optional = _KEYS[channel_type]
    for key in raw:
        if key not in required | optional:
            raise ChannelConfigError(f"config.{key}", f"unknown key for a {kind} channel")
    for key in sorted(required):
        if key not in raw:
            raise ChannelConfigError(f"config.{key}", "is required")
    if channel_type is ChannelType.WEBHOOK:
        url = check_url(raw["url"], "config.url", block_private=block_private)
        secret = raw.get("secret")
        if secret is not None:
            secret = _string(secret, "config.secret", 1024)
        return WebhookConfig(url=url, secret=secret, headers=_headers(raw.get("headers")))
    if channel_type is ChannelType.SLACK:
        return SlackConfig(
            webhook_url=check_url(
                raw["webhook_url"], "config.webhook_url", block_private=block_private
            )
        )
    return EmailConfig(to=_recipients(raw["to"]))


def _headers(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ChannelConfigError("config.headers", "must be an object of header names to values")
    if len(raw) > MAX_HEADERS:
        raise ChannelConfigError("config.headers", f"at most {MAX_HEADERS} headers")
    headers = {}
    for name, value in raw.items():
        where = f"config.headers.{name}"
        if not _HEADER_NAME.match(name):
            raise ChannelConfigError(where, "is not a valid header name")
        if name.lower() in RESERVED_HEADERS:
            raise ChannelConfigError(where, "is set by the scheduler itself")
        headers[name] = _string(value, where, 8192)
    return headers


def _recipients(raw: Any) -> list[str]:
    if not isinstance(raw, list) or not raw or len(raw) > MAX_RECIPIENTS:
        raise ChannelConfigError("config.to", f"must be a list of 1 to {MAX_RECIPIENTS} addresses")
    for index, address in enumerate(raw):
        if not isinstance(address, str) or not _ADDRESS.match(address):
            raise ChannelConfigError(f"config.to[{index}]", "is not an e-mail address")
    return list(raw)


def as_json(config: ChannelConfig) -> dict[str, Any]:
    """The configuration as it is stored (sealed), secrets included."""
    if isinstance(config, WebhookConfig):
        stored: dict[str, Any] = {"url": config.url, "headers": dict(config.headers)}
        if config.secret is not None:
            stored["secret"] = config.secret
        return stored
    if isinstance(config, SlackConfig):
        return {"webhook_url": config.webhook_url}
    return {"to": list(config.to)}


def hide_url(url: str) -> str:
    """``scheme://host[:port]/<first segment>/***``: the rest of a webhook URL is its token."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = ("***@" if "@" in parts.netloc else "") + host
    if parts.port is not None:
        netloc += f":{parts.port}"
    segments = [segment for segment in parts.path.split("/") if segment]
    shown = f"{parts.scheme}://{netloc}"
    if segments:
        shown += f"/{segments[0]}"
    if len(segments) > 1 or parts.query or parts.fragment:
        shown += f"/{HIDDEN}"
    return shown


def redacted(config: ChannelConfig) -> dict[str, Any]:
    """What the API shows of a configuration: no secret, no URL token."""
    if isinstance(config, WebhookConfig):
        return {
            "url": hide_url(config.url),
            "secret": HIDDEN if config.secret is not None else None,
            "headers": dict.fromkeys(config.headers, HIDDEN),
        }
    if isinstance(config, SlackConfig):
        return {"webhook_url": hide_url(config.webhook_url)}
    return {"to": list(config.to)}


def keep_hidden(raw: Any, stored: dict[str, Any], shown: dict[str, Any]) -> Any:
    """``raw`` with every value written exactly as it is shown replaced by the stored one."""
    if not isinstance(raw, dict):
        return raw
    merged = dict(raw)
    for key, value in raw.items():
        if key == "headers" and isinstance(value, dict):
            kept = stored.get("headers") or {}
            merged[key] = {
                name: kept[name] if item == HIDDEN and name in kept else item
                for name, item in value.items()
            }
        elif key in stored and value == shown.get(key) and value is not None:
            merged[key] = stored[key]
    return merged
