"""Where alerts go: a webhook (JSON POST over httpx) and e-mail over SMTP (stdlib).

A channel raises :class:`ChannelError` with a reason fit for the log — never the webhook's URL
(it often carries a token), a password or a recipient list."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from core.errors import ConfigError
from scheduler._alert_settings import SmtpSettings, WebhookSettings
from scheduler.alerts._messages import Message

__all__ = ["Channel", "ChannelError", "EmailChannel", "WebhookChannel", "channels_for"]


class ChannelError(Exception):
    """Telling a channel failed (the reason is safe to log)."""


class Channel(Protocol):
    name: str

    async def send(self, message: Message) -> None: ...


class WebhookChannel:
    name = "webhook"

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        self.host = urlsplit(settings.url).netloc.rpartition("@")[2]

    async def send(self, message: Message) -> None:
        headers = {"User-Agent": "journalsync-alerts"}
        if self.settings.token is not None:
            try:
                headers["Authorization"] = f"Bearer {self.settings.token.resolve()}"
            except ConfigError as exc:
                raise ChannelError(f"webhook token: {exc.message}") from None
        try:
            async with httpx.AsyncClient(timeout=self.settings.timeout) as client:
                resp = await client.post(self.settings.url, json=message.as_json(), headers=headers)
        except httpx.HTTPError as exc:
            raise ChannelError(f"webhook at {self.host}: {type(exc).__name__}") from None
        if resp.status_code >= 300:
            raise ChannelError(f"webhook at {self.host} answered HTTP {resp.status_code}")


class EmailChannel:
    name = "email"

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _message(self, message: Message) -> EmailMessage:
        s = self.settings
        mail = EmailMessage()
        mail["Subject"] = f"[journalsync] {message.title}"
        mail["From"] = s.sender
        mail["To"] = ", ".join(s.recipients)
        mail["Date"] = formatdate(localtime=False)
        mail["Message-ID"] = make_msgid(domain=s.sender.rpartition("@")[2] or None)
        mail.set_content(message.body + "\n\n— journalsync\n")
        return mail

    def _send(self, mail: EmailMessage) -> None:
        s = self.settings
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if s.tls == "ssl":
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        with client:
            if s.tls == "starttls":
                client.starttls(context=context)
            if s.username is not None and s.password is not None:
                client.login(s.username, s.password.resolve())
            client.send_message(mail)

    async def send(self, message: Message) -> None:
        try:
            await asyncio.to_thread(self._send, self._message(message))
        except ConfigError as exc:
            raise ChannelError(f"SMTP password: {exc.message}") from None
        except smtplib.SMTPResponseException as exc:
            raise ChannelError(
                f"SMTP server {self.settings.host}:{self.settings.port} refused: {exc.smtp_code}"
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise ChannelError(
                f"SMTP server {self.settings.host}:{self.settings.port}: {type(exc).__name__}"
            ) from None


def channels_for(webhook: WebhookSettings | None, smtp: SmtpSettings | None) -> list[Channel]:
    out: list[Channel] = []
    if webhook is not None:
        out.append(WebhookChannel(webhook))
    if smtp is not None:
        out.append(EmailChannel(smtp))
    return out
