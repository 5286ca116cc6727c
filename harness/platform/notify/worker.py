"""The delivery worker: one thread per app process. A state change (heard through services.events)
is queued in the database in the request that made it and wakes the thread, which sends what is due,
records each attempt, and sleeps until the next retry is due, a new change wakes it, or POLL_S passes
(deliveries queued by another process whose worker died). Every wait is on an event with a deadline."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
import threading
import time
from collections.abc import Callable
from types import ModuleType

from ..db.notify_models import EndpointKind, NotifyDelivery
from ..db.types import utcnow
from ..runtime import Platform
from . import outbox
from .message import ChangeNotice, StateChange, email_message, webhook_body
from .secretbox import SecretBox, SecretUnreadable
from .senders import NetworkSender, Outcome, Sender, SmtpRelay, WebhookRequest

log = logging.getLogger(__name__)
POLL_S = 30.0
MIN_WAIT_S = 0.02  # a row due now that another process claims first is not worth a busy loop
EVENTS_MODULE = "harness.platform.services.events"


def events_module() -> ModuleType | None:
    """services.events, where the lifecycle announces state changes (None until it exists)."""
    try:
        return importlib.import_module(EVENTS_MODULE)
    except ModuleNotFoundError:
        return None


Listener = Callable[[StateChange], None]
_queueing: list[Listener] = []  # this process's one outbox listener (0 or 1)
_queueing_lock = threading.Lock()


def queue_changes(platform: Platform, wake: Callable[[], None] | None = None) -> Listener | None:
    """Queue every state change this process makes in `platform`'s outbox, durably, in the database.
    One listener per process: a later call (the server's worker starting) replaces an earlier one (the
    command that opened the platform), so no change is queued twice. A command that changes states
    (expiry) queues too; the serving processes send what it queued."""
    events = events_module()
    if events is None:
        return None

    def listener(change: StateChange) -> None:
        with platform.db.write() as db:
            outbox.enqueue(db, change, platform.config.base_url, utcnow())
        if wake is not None:
            wake()

    with _queueing_lock:
        for old in _queueing:
            events.unregister(old)
        _queueing[:] = [listener]
        events.register(listener)
    return listener


def stop_queueing(listener: Listener | None) -> None:
    events = events_module()
    with _queueing_lock:
        if events is not None and listener is not None and listener in _queueing:
            events.unregister(listener)
            _queueing.remove(listener)


class Notifier:
    def __init__(
        self, platform: Platform, sender: Sender | None = None, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.platform = platform
        self.sender: Sender = sender or NetworkSender()
        self.clock = clock
        self._box: SecretBox | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: Listener | None = None

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            self._box = SecretBox.of(self.platform.config.data_dir)
        return self._box

    # -- hearing of changes -------------------------------------------------------------------------
    def on_change(self, change: StateChange) -> None:
        """What the events listener does: queue the deliveries (durably) and wake the thread."""
        with self.platform.db.write() as db:
            outbox.enqueue(db, change, self.platform.config.base_url, self.clock())
        self._wake.set()

    def start(self) -> Notifier:
        self._listener = queue_changes(self.platform, self._wake.set)
        self._thread = threading.Thread(target=self._loop, name="harness-notify", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        stop_queueing(self._listener)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # -- sending ------------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.run_once()
                if sent:
                    continue
                wait = POLL_S
                now = self.clock()
                with self.platform.db.read() as db:
                    due = outbox.next_due(db, now)
                if due is not None:
                    wait = min(POLL_S, max(MIN_WAIT_S, (due - now).total_seconds()))
            except Exception:  # noqa: BLE001 - the database went away for a moment: try again later
                log.exception("notification worker")
                wait = POLL_S
            self._wake.wait(wait)
            self._wake.clear()

    def run_once(self) -> int:
        """Send every delivery due now; returns how many were tried."""
        with self.platform.db.write() as db:
            mine = outbox.claim(db, self.clock())
        for delivery_id in mine:
            self._deliver(delivery_id)
        return len(mine)

    def _deliver(self, delivery_id: int) -> None:
        with self.platform.db.read() as db:
            delivery = db.get(NotifyDelivery, delivery_id)
            assert delivery is not None
            endpoint = delivery.endpoint
            row = outbox.settings(db)
            policy = outbox.policy_of(row)
            kind, payload, target = endpoint.kind, delivery.payload, endpoint.target_shown
            removed = not endpoint.active
            url_sealed, secret_sealed = endpoint.url_sealed, endpoint.secret_sealed
            relay_fields = (
                row.smtp_host,
                row.smtp_port,
                row.smtp_security,
                row.smtp_user,
                row.smtp_password_sealed,
                row.mail_from,
            )
        started = self.clock()
        t0 = time.monotonic()
        try:
            if removed:
                outcome = Outcome(False, None, "the endpoint was removed")
            elif kind == EndpointKind.WEBHOOK.value:
                outcome = self._post(delivery_id, payload, url_sealed, secret_sealed, policy.timeout_s)
            else:
                outcome = self._mail(delivery_id, payload, target, relay_fields, policy.timeout_s)
        except SecretUnreadable as exc:
            outcome = Outcome(False, None, str(exc))
        duration = time.monotonic() - t0
        with self.platform.db.write() as db:
            done = outbox.record(db, delivery_id, outcome, started, duration, policy, final=removed)
        if not outcome.ok:
            log.warning(
                "delivery %s to %s: attempt %s failed (%s); %s",
                delivery_id,
                target,
                done.attempts,
                outcome.error,
                f"next at {done.next_attempt_at}" if done.next_attempt_at else "given up",
            )

    def _post(
        self, delivery_id: int, payload: str, url_sealed: str, secret_sealed: str, timeout_s: float
    ) -> Outcome:
        url = self.box.open(url_sealed, "webhook-url")
        secret = self.box.open(secret_sealed, "webhook-secret")
        body = webhook_body(payload, delivery_id)
        request = WebhookRequest(
            url=url, secret=secret, body=body, delivery_id=delivery_id, event="submission.state_changed"
        )
        return self.sender.post(request, timeout_s)

    def _mail(
        self,
        delivery_id: int,
        payload: str,
        address: str,
        relay_fields: tuple[str, int, str, str, str, str],
        timeout_s: float,
    ) -> Outcome:
        host, port, security, user, password_sealed, sender = relay_fields
        if not host or not sender:
            return Outcome(False, None, "no mail relay set (harness platform admin notify smtp ...)")
        password = self.box.open(password_sealed, "smtp-password") if password_sealed else ""
        relay = SmtpRelay(host, port, security, user, password, sender)
        message = email_message(ChangeNotice.from_payload(payload), sender, address, delivery_id)
        return self.sender.mail(relay, message, timeout_s)
