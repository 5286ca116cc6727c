"""Real receivers for the notification tests, on loopback: an HTTP server that records every request
(and can answer errors first), and aiosmtpd's SMTP server with a login, keeping every mail it gets.
Waiting is on a condition variable with a deadline, never a sleep."""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from harness.waiting import free_port

# AUTH without TLS: on loopback, on purpose (aiosmtpd warns each time a session starts).
warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class HookReceiver:
    """POSTs are recorded; the first `fail_first` get `fail_status`."""

    def __init__(self, fail_first: int = 0, fail_status: int = 503) -> None:
        self.requests: list[Received] = []
        self.fail_first = fail_first
        self.fail_status = fail_status
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._cond:
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body))
                    failing = len(receiver.requests) <= receiver.fail_first
                    receiver._cond.notify_all()
                status = receiver.fail_status if failing else 204
                self.send_response(status)
                payload = b"busy, try later\n" if failing else b""
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> HookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= count, timeout):
                raise TimeoutError(f"{len(self.requests)} of {count} webhook requests within {timeout} s")
            return list(self.requests)


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: Message
    login: str | None


@dataclass
class _Handler:
    mails: list[Mail] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        with self.cond:
            self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos),
                                   message_from_bytes(envelope.content), login))
            self.cond.notify_all()
        return "250 OK"


class SmtpServer:
    """aiosmtpd on loopback, requiring a login with `user`/`password` (plain, no TLS: loopback)."""

    def __init__(self, user: str = "mailer", password: str = "relay-pass-5c1e") -> None:
        self.user, self.password = user, password
        self.handler = _Handler()

        def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
            ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user
                  and auth_data.password.decode() == password)
            return AuthResult(success=ok, handled=False, auth_data=auth_data)

        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, authenticator=check,
                                     auth_required=True, auth_require_tls=False)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Mail]:
        with self.handler.cond:
            if not self.handler.cond.wait_for(lambda: len(self.handler.mails) >= count, timeout):
                raise TimeoutError(f"{len(self.handler.mails)} of {count} mails within {timeout} s")
            return list(self.handler.mails)
