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

from agent.protocol import NS, single_line
from collector.incidents.outbox import Outgoing
from collector.notify.delivery import DeliveryError

SUBJECT_CHARS = 200
# A value in the body's "Key: value" lines: one line, so a text cannot forge another line.
VALUE_CHARS = 1_000


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
    """The message for one notice (pure).

    The summary comes from agents and printers (a State's text, a printer's alert, which
    keeps the device's line breaks): every value is put on one line first, because a
    header with a line break is refused (ValueError) or, worse, starts a header of its own.
    """
    incident: dict[str, Any] = json.loads(notice.payload)["incident"]

    def value(key: str) -> str:
        return single_line(str(incident[key] or ""), VALUE_CHARS)

    message = EmailMessage()
    what = {"opened": "New", "updated": "Updated", "resolved": "Resolved"}[str(notice.notice)]
    message["Subject"] = single_line(
        f"[deskwatch] {what} {incident['severity']}: {incident['summary']}", SUBJECT_CHARS
    )
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message["Message-ID"] = f"<{notice.idempotency_key}@deskwatch>"
    message["X-Deskwatch-Incident"] = str(incident["id"])
    lines = [
        f"{what} incident {incident['id']}: {value('summary')}",
        "",
        f"Status:    {incident['status']}" + ("  (flapping)" if incident["flapping"] else ""),
        f"Severity:  {incident['severity']}",
        f"Category:  {value('category')}",
        f"What:      {value('scope')} {value('subject')} - {value('condition')}",
        f"Site:      {value('site') or '-'}",
        f"Opened:    {_when(incident['opened_ns'])}",
    ]
    if incident["resolved_ns"]:
        lines.append(f"Resolved:  {_when(incident['resolved_ns'])} by {value('resolved_by') or 'deskwatch'}")
    if incident["affected"]:
        lines.append(f"Affected:  {single_line(', '.join(incident['affected']), VALUE_CHARS)}")
    if external_id:
        lines.append(f"Ticket:    {single_line(external_id, VALUE_CHARS)}")
    lines += ["", f"Details and knowledge-base steps: {settings.incident_url.format(id=incident['id'])}"]
    message.set_content("\n".join(lines) + "\n")
    return message


class Email:
    """A Connector sending mail through one SMTP relay."""

    def __init__(self, settings: EmailSettings, password: str | None = None) -> None:
        self.settings = settings
        self.password = password if password is not None else os.environ.get(settings.password_env, "")

    def close(self) -> None:
        """Nothing to release: each delivery opens and closes its own SMTP session."""

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
        except smtplib.SMTPRecipientsRefused as err:
            codes = [code for code, _ in err.recipients.values()]
            permanent = all(500 <= code < 600 for code in codes)
            raise DeliveryError(
                f"{s.host}:{s.port}: recipients refused: {err.recipients}", not permanent
            ) from err
        except smtplib.SMTPResponseException as err:
            # 5xx is the relay's final word on this message (RFC 5321 4.2.1); 4xx says "later".
            permanent = 500 <= err.smtp_code < 600
            reason = (
                err.smtp_error.decode(errors="replace")
                if isinstance(err.smtp_error, bytes)
                else err.smtp_error
            )
            raise DeliveryError(f"{s.host}:{s.port}: {err.smtp_code} {reason}", not permanent) from err
        except (OSError, smtplib.SMTPException) as err:
            raise DeliveryError(f"{s.host}:{s.port}: {err!r}") from err
        return ""
