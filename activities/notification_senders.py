"""Sending one notification: a signed webhook POST, a Slack message, or an e-mail.

Every attempt is bounded by ``ATTEMPT_SECONDS``. An HTTP destination is
resolved and checked by ``domain.net_guard`` like an HTTP task's, and the
request goes to the checked address. ``Sent.ok`` is a 2xx answer (an SMTP
server accepting the message); anything else is for the caller to retry.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from activities.http_client import LazyHttpClient
from domain.net_guard import resolve_allowed
from domain.notification_channels import (
    ChannelConfig,
    EmailConfig,
    SlackConfig,
    WebhookConfig,
)
from domain.notifications import SIGNATURE_HEADER, headline, signature

ATTEMPT_SECONDS = 10.0
USER_AGENT = "temporal-task-scheduler-notifications/1.0"


@dataclass(frozen=True)
class Sent:
    ok: bool
    status: int | None = None
    """HTTP status, or the SMTP server's reply code."""
    error: str | None = None


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    username: str
    password: str
    sender: str
    starttls: bool


class NoSmtpServer(Exception):
    """E-mail channels need ``SCHEDULER_SMTP_HOST``."""


def encode_body(body: dict[str, Any]) -> bytes:
    """The webhook body's bytes (what the signature covers)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def slack_message(body: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: a text line plus blocks (task, status, error, links)."""
    text = headline(body)
    task = body.get("task") or {}
    run = body.get("run") or {}
    fields = [
        {"type": "mrkdwn", "text": f"*Task*\n{task.get('name', '-')} (id {task.get('id', '-')})"},
        {"type": "mrkdwn", "text": f"*Status*\n{run.get('status') or body['event']}"},
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}},
        {"type": "section", "fields": fields},
    ]
    error = run.get("error_message")
    if error:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"```{error[-2500:]}```"}}
        )
    links = [
        f"<{url}|{label}>"
        for label, url in (
            ("Run", body["links"].get("run")),
            ("Temporal", body["links"].get("temporal_ui")),
        )
        if url
    ]
    if links:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": " | ".join(links)}]}
        )
    return {"text": text, "blocks": blocks}


def email_message(body: dict[str, Any], server: SmtpServer, to: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = headline(body)
    message["From"] = server.sender
    message["To"] = ", ".join(to)
    message["X-Scheduler-Event-Id"] = body["event_id"]
    run = body.get("run") or {}
    lines = [headline(body), ""]
    if run.get("error_message"):
        lines += ["Error:", run["error_message"], ""]
    for label, url in body["links"].items():
        if url:
            lines.append(f"{label}: {url}")
    lines += ["", "Event:", json.dumps(body, indent=2)]
    message.set_content("\n".join(lines))
    return message


class Senders:
    """Sends to each channel type; one HTTP client for all webhook and Slack deliveries."""

    def __init__(self, *, block_private: bool, smtp: SmtpServer | None) -> None:
        self._block_private = block_private
        self._smtp = smtp
        self._client = LazyHttpClient()

    async def close(self) -> None:
        await self._client.aclose()

    async def send(self, config: ChannelConfig, body: dict[str, Any]) -> Sent:
        """One attempt; ``BlockedAddress`` and ``NoSmtpServer`` mean no attempt can succeed."""
        if isinstance(config, WebhookConfig):
            data = encode_body(body)
            headers = {
                **config.headers,
                "Content-Type": "application/json",
                "X-Scheduler-Event": body["event"],
                "X-Scheduler-Event-Id": body["event_id"],
            }
            if config.secret is not None:
                headers[SIGNATURE_HEADER] = signature(config.secret, int(time.time()), data)
            return await self._post(config.url, data, headers)
        if isinstance(config, SlackConfig):
            data = json.dumps(slack_message(body)).encode()
            return await self._post(config.webhook_url, data, {"Content-Type": "application/json"})
        return await self._mail(config, body)

    async def _post(self, url_text: str, data: bytes, headers: dict[str, str]) -> Sent:
        import httpx

        url = httpx.URL(url_text)
        try:
            async with asyncio.timeout(ATTEMPT_SECONDS):
                port = url.port or (443 if url.scheme == "https" else 80)
                address = await resolve_allowed(url.host, port, block_private=self._block_private)
                extensions: dict[str, Any] = (
                    {"sni_hostname": url.host} if url.scheme == "https" else {}
                )
                request = self._client.get().build_request(
                    "POST",
                    url.copy_with(host=address),
                    headers={
                        **headers,
                        "User-Agent": USER_AGENT,
                        "Host": url.netloc.decode("ascii"),
                    },
                    content=data,
                    timeout=httpx.Timeout(ATTEMPT_SECONDS),
                    extensions=extensions,
                )
                response = await self._client.get().send(request)
        except TimeoutError:
            return Sent(ok=False, error=f"no answer within {ATTEMPT_SECONDS:g} s")
        except httpx.HTTPError as exc:
            return Sent(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
        if response.is_success:
            return Sent(ok=True, status=response.status_code)
        return Sent(
            ok=False,
            status=response.status_code,
            error=f"HTTP {response.status_code} {response.reason_phrase}",
        )

    async def _mail(self, config: EmailConfig, body: dict[str, Any]) -> Sent:
        server = self._smtp
        if server is None:
            raise NoSmtpServer("e-mail channels need SCHEDULER_SMTP_HOST")
        message = email_message(body, server, config.to)
        try:
            await asyncio.to_thread(_send_mail, server, message)
        except smtplib.SMTPResponseException as exc:
            return Sent(ok=False, status=exc.smtp_code, error=f"SMTP {exc.smtp_code}")
        except (smtplib.SMTPException, OSError) as exc:
            return Sent(ok=False, error=f"{type(exc).__name__}: {exc}"[:500])
        return Sent(ok=True, status=250)


def _send_mail(server: SmtpServer, message: EmailMessage) -> None:
    with smtplib.SMTP(server.host, server.port, timeout=ATTEMPT_SECONDS) as smtp:
        if server.starttls:
            smtp.starttls()
        if server.username:
            smtp.login(server.username, server.password)
        smtp.send_message(message)
