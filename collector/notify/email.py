"""E-mail over SMTP (STARTTLS, AUTH): a readable message with a link to the incident."""

from __future__ import annotations

import datetime as dt
import json
import os
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any

import msgspec

from collector.incidents.store import Outgoing
from collector.notify.delivery import DeliveryError

NS = 1_000_000_000


class EmailSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    host: str
    sender: str
    recipients: list[str]
    port: int = 587
    starttls: bool = True
    username: str = ""
    password_env: str = "DESKWATCH_SMTP_PASSWORD"
    ca_file: str = ""  # trust this CA instead of the system's (a private mail relay)
    incident_url: str = "http://deskwatch.local/incidents/{id}"
    timeout_seconds: float = 20


def _when(ns: int | None) -> str:
    return dt.datetime.fromtimestamp(ns / NS, dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if ns else "-"


def compose(settings: EmailSettings, notice: Outgoing, external_id: str) -> EmailMessage:
    """The message for one notice (pure)."""
    incident: dict[str, Any] = json.loads(notice.payload)["incident"]
    message = EmailMessage()
    what = {"opened": "New", "updated": "Updated", "resolved": "Resolved"}[str(notice.notice)]
    message["Subject"] = f"[deskwatch] {what} {incident['severity']}: {incident['summary']}"[:200]
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Message-ID"] = f"<{notice.idempotency_key}@deskwatch>"
    message["X-Deskwatch-Incident"] = str(incident["id"])
    lines = [
        f"{what} incident {incident['id']}: {incident['summary']}",
        "",
        f"Status:    {incident['status']}" + ("  (flapping)" if incident["flapping"] else ""),
        f"Severity:  {incident['severity']}",
        f"Category:  {incident['category']}",
        f"What:      {incident['scope']} {incident['subject']} - {incident['condition']}",
        f"Site:      {incident['site'] or '-'}",
        f"Opened:    {_when(incident['opened_ns'])}",
    ]
    if incident["resolved_ns"]:
        lines.append(
            f"Resolved:  {_when(incident['resolved_ns'])} by {incident['resolved_by'] or 'deskwatch'}"
        )
    if incident["affected"]:
        lines.append(f"Affected:  {', '.join(incident['affected'])}")
    if external_id:
        lines.append(f"Ticket:    {external_id}")
    lines += ["", f"Details and knowledge-base steps: {settings.incident_url.format(id=incident['id'])}"]
    message.set_content("\n".join(lines) + "\n")
    return message


class Email:
    """A Connector sending mail through one SMTP relay."""

    def __init__(self, settings: EmailSettings, password: str | None = None) -> None:
        self.settings = settings
        self.password = password if password is not None else os.environ.get(settings.password_env, "")

    def deliver(self, notice: Outgoing, external_id: str) -> str:
        s = self.settings
        message = compose(s, notice, external_id)
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds) as smtp:
                if s.starttls:
                    context = ssl.create_default_context(cafile=s.ca_file or None)
                    smtp.starttls(context=context)
                if s.username:
                    smtp.login(s.username, self.password)
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as err:
            raise DeliveryError(f"{s.host}:{s.port}: login refused: {err}", retry=False) from err
        except (OSError, smtplib.SMTPException) as err:
            raise DeliveryError(f"{s.host}:{s.port}: {err!r}") from err
        return ""
