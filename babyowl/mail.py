"""Outgoing email with interchangeable backends.

`console` logs the message (development), `file` writes one .eml file per
message (development, tests), `smtp` sends it. Callers never pick: the app
configuration does.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

log = logging.getLogger(__name__)


def build_message(config: dict, *, to: str, subject: str, text: str, html: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="babyowl")
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    return message


class ConsoleBackend:
    def __init__(self, config: dict):
        self.config = config

    def send(self, message: EmailMessage) -> None:
        log.info("Email (console backend, not sent):\n%s", message.as_string())


class FileBackend:
    def __init__(self, config: dict):
        self.directory = Path(config["MAIL_FILE_DIR"])

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{uuid.uuid4().hex}.eml"
        # Write then rename so a reader never sees half a message.
        partial = path.with_suffix(".part")
        partial.write_bytes(message.as_bytes())
        partial.rename(path)
        log.info("Email to %s written to %s", message["To"], path)


class SmtpBackend:
    def __init__(self, config: dict):
        self.config = config

    def send(self, message: EmailMessage) -> None:
        c = self.config
        smtp_class = smtplib.SMTP_SSL if c["MAIL_USE_SSL"] else smtplib.SMTP
        with smtp_class(c["MAIL_SERVER"], c["MAIL_PORT"], timeout=c["MAIL_TIMEOUT"]) as smtp:
            if c["MAIL_USE_TLS"] and not c["MAIL_USE_SSL"]:
                smtp.starttls(context=ssl.create_default_context())
            if c["MAIL_USERNAME"]:
                smtp.login(c["MAIL_USERNAME"], c["MAIL_PASSWORD"] or "")
            smtp.send_message(message)


BACKENDS = {"console": ConsoleBackend, "file": FileBackend, "smtp": SmtpBackend}


def get_backend(config: dict):
    return BACKENDS[config["MAIL_BACKEND"]](config)
