"""Helpers shared by the blueprint tests: mail read back from the file backend, page text, other browsers."""
from __future__ import annotations

import email
import html
import re
from email import policy
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, select

from babyowl.models import User


def mails(directory: Path) -> list[email.message.EmailMessage]:
    files = sorted(directory.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in files]


def links_in_mail(directory: Path, to: str | None = None) -> list[str]:
    """The paths of every link in the emails (to `to`, if given), oldest first."""
    links = []
    for message in mails(directory):
        if to is None or message["To"] == to:
            links += [urlsplit(url).path for url in re.findall(r"https?://\S+", message.get_content())]
    return links


def flashes(response) -> list[str]:
    page = response.get_data(as_text=True)
    return [html.unescape(m).strip() for m in re.findall(r'<p class="flash flash-\w+"[^>]*>(.*?)</p>', page, re.S)]


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def reload(db, row):
    """The row as the database has it now (None once deleted)."""
    db.session.expire_all()
    return db.session.get(type(row), row.id)


def users_with_email(db, address: str) -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(func.lower(User.email) == address.lower()))


def signed_in_client(app, user: User):
    """Another browser, already signed in as `user`."""
    from tests.factories import cookie_id_for

    other = app.test_client()
    with other.session_transaction() as session:
        session["_user_id"] = cookie_id_for(user)
        session["_fresh"] = True
    return other



def requests_at_once(app, send, count: int = 10) -> tuple[list, list[Exception]]:
    """`count` clients calling `send(client, index)` at the same moment (a barrier releases them together):
    the responses, and any exception raised (for the test to assert there is none)."""
    import threading

    barrier, responses, errors = threading.Barrier(count), [], []

    def worker(index):
        try:
            client = app.test_client()
            barrier.wait()
            responses.append(send(client, index))
        except Exception as exc:  # noqa: BLE001 - returned and asserted by the test
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return responses, errors
