"""Webhook to a real local HTTP receiver, e-mail to a real aiosmtpd server with STARTTLS and AUTH."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.protocol import Severity
from collector.errors import ConfigError
from collector.incidents.schema import notifications
from collector.notify.email import Email, EmailSettings
from collector.notify.notifier import Notifier, RetryPolicy
from collector.notify.webhook import Webhook, WebhookSettings, verify
from tests.incidents.fleet import T0, S, batch, engine_for, sqlite_store, state
from tests.support.services import free_port
from tests.support.waiting import wait_until

SECRET = b"s3cret"


class Receiver:
    """A helpdesk system's webhook endpoint: checks signatures, answers with its own ticket id."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[tuple[str, dict[str, Any], bool]] = []
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                good = verify(
                    SECRET, self.headers["X-Deskwatch-Timestamp"], body, self.headers["X-Deskwatch-Signature"]
                )
                document = json.loads(body)
                received.append((self.headers["X-Deskwatch-Event"], document, good))
                answer = json.dumps({"ticket_id": f"HD-{document['incident']['id']}"}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(free_port())
    r.start()
    yield r
    r.stop()


def test_webhook_delivers_signed_events_keeps_ticket_id_and_survives_receiver_outage(
    tmp_path: Path, receiver: Receiver
) -> None:
    store = sqlite_store(tmp_path)
    engine = engine_for(store)
    hook = Webhook(
        WebhookSettings(url=f"http://127.0.0.1:{receiver.port}/tickets", timeout_seconds=2), SECRET
    )
    notifier = Notifier(store.outbox, {"hook": hook}, RetryPolicy(first_delay_seconds=5), clock=lambda: 0)

    def observe(t: int, ok: bool, severity: Severity = Severity.WARNING) -> None:
        engine.observe_batch(batch("pc-1", t, states=[state("SN1", "printer_paper_jam", ok, t, severity)]), t)
        engine.evaluate(t)

    observe(T0, ok=False)
    assert notifier.deliver_due(T0) == 1
    observe(T0 + 30 * S, ok=False, severity=Severity.CRITICAL)
    assert notifier.deliver_due(T0 + 30 * S) == 1
    receiver.stop()  # the helpdesk system goes down
    for n in range(2, 5):
        observe(T0 + n * 30 * S, ok=True)
    assert notifier.deliver_due(T0 + 150 * S) == 0  # resolved, but nobody to tell yet
    assert notifier.deliver_due(T0 + 152 * S) == 0  # not due again before the backoff
    receiver.start()  # back, on the same port
    assert notifier.deliver_due(T0 + 160 * S) == 1
    assert notifier.deliver_due(T0 + 600 * S) == 0  # delivered once
    events = [(event, doc["external_id"], good) for event, doc, good in receiver.received]
    assert events == [("opened", "", True), ("updated", "HD-1", True), ("resolved", "HD-1", True)]
    keys = [doc["idempotency_key"] for _, doc, _ in receiver.received]
    assert len(set(keys)) == 3
    timeline = [e.kind for e in store.timeline(1)]
    assert timeline.count("notified") == 3 and "notify_failed" in timeline
    notifier.stop()  # closes the webhook's pooled connection


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.content or b"")))
        return "250 OK"


def authenticate(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == b"deskwatch" and data.password == b"pw"
    return AuthResult(success=ok)


def test_email_goes_through_starttls_and_auth_with_a_link(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=tls,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        store = sqlite_store(tmp_path, router=lambda _: ["mail"])
        engine = engine_for(store)
        engine.observe_batch(batch("pc-1", T0, states=[state("SN1", "printer_paper_jam", False, T0)]), T0)
        engine.evaluate(T0)
        settings = EmailSettings(
            host="127.0.0.1",
            port=port,
            sender="deskwatch@example.org",
            recipients=["helpdesk@example.org"],
            username="deskwatch",
            ca_file=str(cert),
            incident_url="https://deskwatch.example.org/incidents/{id}",
        )
        notifier = Notifier(store.outbox, {"mail": Email(settings, password="pw")}, clock=lambda: T0)
        assert notifier.deliver_due(T0) == 1
        engine.store.resolve(1, "maria", "fixed", T0 + S)
        assert notifier.deliver_due(T0 + S) == 1
    finally:
        controller.stop()
    (rcpt, opened), (_, resolved) = inbox.messages
    assert rcpt == ["helpdesk@example.org"]
    message = message_from_bytes(opened)
    assert message["Subject"].startswith("[deskwatch] New warning:")
    assert "https://deskwatch.example.org/incidents/1" in message.get_payload()
    assert "Resolved:  " in message_from_bytes(resolved).get_payload()


class PickyInbox(Inbox):
    """A mail relay that refuses for good (554) any message whose subject says `refuse-me`."""

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        message = message_from_bytes(bytes(envelope.content or b""))
        if "refuse-me" in str(message["Subject"]):
            return "554 5.6.0 message refused by policy"
        return await super().handle_DATA(server, session, envelope)


def _jam(device: str, text: str) -> Any:
    return state(device, "printer_paper_jam", False, T0, text=text)


POISON = "jam in tray 2\nBcc: everyone@example.org\x85Subject: fake\u2028more\u2029end\r\n\x00"


def test_a_poison_summary_stops_no_notice_of_any_connector(tmp_path: Path, receiver: Receiver) -> None:
    """Line breaks of every kind in a printer's text: the e-mail still goes out on one subject
    line, a relay's permanent refusal marks only that notice failed, and every other incident
    reaches both the webhook and the mailbox."""
    inbox = PickyInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    store = sqlite_store(tmp_path, router=lambda _: ["mail", "hook"])
    engine = engine_for(store)
    texts = {"SN0": POISON, "SN1": "refuse-me", **{f"SN{n}": f"jam {n}" for n in range(2, 6)}}
    engine.observe_batch(batch("pc-1", T0, states=[_jam(d, t) for d, t in texts.items()]), T0)
    engine.evaluate(T0)
    mail = Email(
        EmailSettings(
            host="127.0.0.1",
            port=port,
            sender="dw@example.org",
            recipients=["hd@example.org"],
            starttls=False,
            timeout_seconds=5,
        )
    )
    hook = Webhook(WebhookSettings(url=f"http://127.0.0.1:{receiver.port}/t", timeout_seconds=5), SECRET)
    notifier = Notifier(store.outbox, {"mail": mail, "hook": hook}, clock=lambda: T0)
    notifier.start(interval_seconds=0.05)
    try:
        wait_until(
            lambda: len(receiver.received) == 6 and len(inbox.messages) == 5, timeout=20, what="every notice"
        )
    finally:
        notifier.stop()
        controller.stop()
    # policy.default unfolds the header lines SMTP folds at 78 characters
    subjects = {str(message_from_bytes(raw, policy=policy.default)["Subject"]) for _, raw in inbox.messages}
    poison = next(s for s in subjects if "tray 2" in s)
    assert not any(c in poison for c in "\n\r\x85\u2028\u2029\x00"), repr(poison)
    assert all(message_from_bytes(raw)["Bcc"] is None for _, raw in inbox.messages)
    assert sorted(doc["incident"]["summary"] for _, doc, _ in receiver.received) == sorted(texts.values())
    with store.engine.connect() as conn:
        failed = conn.execute(
            sa.select(notifications.c.connector, notifications.c.gave_up, notifications.c.last_error).where(
                notifications.c.delivered_ns.is_(None)
            )
        ).all()
    assert [(row.connector, row.gave_up) for row in failed] == [("mail", True)]
    assert "554" in failed[0].last_error and "refused by policy" in failed[0].last_error
    print(
        f"\npoison summary: e-mails sent {len(inbox.messages)}/6 (1 refused for good, marked failed), "
        f"webhooks {len(receiver.received)}/6"
    )


def test_a_hanging_webhook_does_not_hold_up_the_mail(tmp_path: Path) -> None:
    """A receiver that accepts connections and never answers costs its own connector a
    timeout per notice; the e-mails go out meanwhile."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)  # the kernel completes the handshakes; nobody ever reads or answers
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    store = sqlite_store(tmp_path, router=lambda _: ["hook", "mail"])
    engine = engine_for(store)
    engine.observe_batch(batch("pc-1", T0, states=[_jam(f"SN{n}", f"jam {n}") for n in range(6)]), T0)
    engine.evaluate(T0)
    mail = Email(
        EmailSettings(
            host="127.0.0.1",
            port=port,
            sender="dw@example.org",
            recipients=["hd@example.org"],
            starttls=False,
            timeout_seconds=5,
        )
    )
    url = f"http://127.0.0.1:{hole.getsockname()[1]}/t"
    hook = Webhook(WebhookSettings(url=url, timeout_seconds=1), SECRET)
    notifier = Notifier(store.outbox, {"hook": hook, "mail": mail}, clock=lambda: T0)
    notifier.start(interval_seconds=0.05)
    try:
        started = time.monotonic()
        wait_until(lambda: len(inbox.messages) == 6, timeout=20, interval=0.02, what="six e-mails")
        took = time.monotonic() - started
    finally:
        notifier.stop()
        controller.stop()
        hole.close()
    print(f"\nsix e-mails in {took:.2f} s while the webhook hung (1 s timeout per notice)")
    assert took < 3.0  # one after another behind the webhook they took more than 6 s


def test_a_webhook_without_its_secret_refuses_to_sign(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DESKWATCH_WEBHOOK_SECRET", raising=False)
    with pytest.raises(ConfigError, match=r"\$DESKWATCH_WEBHOOK_SECRET \(secret_env\) is not set or empty"):
        Webhook(WebhookSettings(url="http://127.0.0.1:9/t"))
    monkeypatch.setenv("DESKWATCH_WEBHOOK_SECRET", "")
    with pytest.raises(ConfigError, match="refusing to sign notices with an empty key"):
        Webhook(WebhookSettings(url="http://127.0.0.1:9/t"))
