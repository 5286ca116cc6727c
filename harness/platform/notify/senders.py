"""The two ways a delivery leaves the platform, behind one seam: a signed HTTP POST, an SMTP mail.

A receiver is untrusted: its answer is read for its status line and at most a few bytes of body,
redirects are not followed, and every attempt has a deadline."""

from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import httpx

from . import signing

MAX_ANSWER = 512  # bytes of a receiver's answer kept for the log


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None  # HTTP status, or the SMTP reply code of a refusal
    error: str  # why it failed ("" when ok); never holds a secret


@dataclass(frozen=True)
class WebhookRequest:
    url: str
    secret: str
    body: bytes
    delivery_id: int
    event: str


@dataclass(frozen=True)
class SmtpRelay:
    host: str
    port: int
    security: str  # starttls | tls | none
    user: str
    password: str
    sender: str


class Sender(Protocol):
    def post(self, request: WebhookRequest, timeout_s: float) -> Outcome: ...

    def mail(self, relay: SmtpRelay, message: EmailMessage, timeout_s: float) -> Outcome: ...


class NetworkSender:
    """The real thing: httpx for webhooks, smtplib for mail."""

    def post(self, request: WebhookRequest, timeout_s: float) -> Outcome:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "harness-platform",
            signing.EVENT_HEADER: request.event,
            signing.DELIVERY_HEADER: str(request.delivery_id),
            signing.TIMESTAMP_HEADER: str(timestamp),
            signing.SIGNATURE_HEADER: signing.signature(request.secret, timestamp, request.body),
        }
        try:
            with (
                httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client,
                client.stream("POST", request.url, content=request.body, headers=headers) as answer,
            ):
                head = b""
                for chunk in answer.iter_bytes():
                    head += chunk
                    if len(head) >= MAX_ANSWER:
                        break
                if 200 <= answer.status_code < 300:
                    return Outcome(True, answer.status_code, "")
                text = head[:MAX_ANSWER].decode("utf-8", "replace").strip().splitlines()
                detail = f": {text[0][:200]}" if text else ""
                return Outcome(False, answer.status_code, f"HTTP {answer.status_code}{detail}")
        except httpx.HTTPError as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {_no_url(str(exc), request.url)}")

    def mail(self, relay: SmtpRelay, message: EmailMessage, timeout_s: float) -> Outcome:
        try:
            smtp: smtplib.SMTP
            if relay.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    relay.host, relay.port, timeout=timeout_s, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(relay.host, relay.port, timeout=timeout_s)
            with smtp:
                if relay.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if relay.user:
                    smtp.login(relay.user, relay.password)
                refused = smtp.send_message(message)
            if refused:
                code, answer = next(iter(refused.values()))
                return Outcome(False, code, f"refused: {answer.decode('utf-8', 'replace')[:200]}")
            return Outcome(True, 250, "")
        except smtplib.SMTPResponseException as exc:
            raw = exc.smtp_error
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            return Outcome(False, exc.smtp_code, f"SMTP {exc.smtp_code}: {text[:200]}")
        except (smtplib.SMTPException, OSError) as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:300])


def _no_url(text: str, url: str) -> str:
    """httpx puts the URL in some messages; it may hold a token."""
    return text.replace(url, "<url>")[:300]
