"""What a state change says to a receiver (pure): the webhook's JSON body and the e-mail made from it.

Text that comes from people (the officer's reason) travels as JSON data and in the mail's body, never
in a header; the subject is made of the platform's own words (ids and state names)."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Protocol


class StateChange(Protocol):
    """The shape of services.events.StateChange, all this module reads of it."""

    @property
    def submission_id(self) -> int: ...
    @property
    def organisation(self) -> str: ...
    @property
    def before(self) -> str: ...
    @property
    def after(self) -> str: ...
    @property
    def actor(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def at(self) -> dt.datetime: ...


EVENT = "submission.state_changed"
MAX_REASON = 4000
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # line breaks and controls

STATE_WORDS = {  # state: (en, zh)
    "": ("new", "新建"),  # before a submission's first state: it was just published
    "submitted": ("submitted", "已提交"),
    "in_review": ("in review", "审核中"),
    "retest_requested": ("re-test requested", "要求重测"),
    "rejected": ("rejected", "已驳回"),
    "approved": ("approved", "已批准"),
    "certified": ("certified", "已认证"),
    "revoked": ("revoked", "已撤销"),
    "expired": ("expired", "已过期"),
}


@dataclass(frozen=True)
class ChangeNotice:
    """A state change with what a receiver needs to find the submission."""

    submission_id: int
    run_id: str
    vendor: str
    before: str
    after: str
    actor: str
    reason: str
    at: str  # ISO 8601 UTC
    url: str  # the submission's page, when the platform knows its public address

    @classmethod
    def of(cls, change: StateChange, run_id: str, base_url: str) -> ChangeNotice:
        return cls(
            submission_id=change.submission_id,
            run_id=run_id,
            vendor=change.organisation,
            before=change.before,
            after=change.after,
            actor=change.actor,
            reason=change.reason[:MAX_REASON],
            at=change.at.isoformat(),
            url=f"{base_url.rstrip('/')}/submissions/{change.submission_id}" if base_url else "",
        )

    def payload(self) -> str:
        return json.dumps({"event": EVENT, **asdict(self)}, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_payload(cls, text: str) -> ChangeNotice:
        data: dict[str, Any] = json.loads(text)
        data.pop("event", None)
        return cls(**data)


def webhook_body(payload: str, delivery_id: int) -> bytes:
    """The payload with the delivery's id, which a receiver uses to drop a retried duplicate."""
    data = json.loads(payload)
    data["delivery"] = delivery_id
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")


def _state(value: str, lang: int) -> str:
    return STATE_WORDS.get(value, (value, value))[lang]


def _header_text(value: str) -> str:
    return _HEADER_UNSAFE.sub("?", value)[:120]


def email_message(notice: ChangeNotice, sender: str, to: str, delivery_id: int) -> EmailMessage:
    msg = EmailMessage()
    sid = notice.submission_id
    msg["Subject"] = _header_text(
        f"[harness] submission {sid}: {_state(notice.before, 0)} -> {_state(notice.after, 0)}"
    )
    msg["From"] = sender
    msg["To"] = to
    msg["Message-ID"] = make_msgid(f"harness-{delivery_id}")
    msg["Date"] = format_datetime(dt.datetime.fromisoformat(notice.at))
    msg["X-Harness-Delivery"] = str(delivery_id)
    lines = [
        f"提交 {sid}（运行 {notice.run_id}，厂商 {notice.vendor}）：{_state(notice.before, 1)} → "
        f"{_state(notice.after, 1)}",
        f"Submission {sid} (run {notice.run_id}, vendor {notice.vendor}): {_state(notice.before, 0)} -> "
        f"{_state(notice.after, 0)}",
        "",
        f"时间 / At: {notice.at}",
        f"操作人 / By: {notice.actor or 'platform'}",
    ]
    if notice.reason:
        lines += ["原因 / Reason:", notice.reason]
    if notice.url:
        lines += ["", notice.url]
    msg.set_content("\n".join(lines) + "\n")
    return msg
