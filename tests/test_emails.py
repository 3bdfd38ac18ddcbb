"""One module writes every email: services hand it plain values, it picks the template, the links and the language."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from babyowl import emails

SERVICES = Path(__file__).parents[1] / "babyowl" / "services"


def test_account_emails_link_to_the_public_address_from_the_worker(app):
    with app.app_context():
        app.config["PUBLIC_URL"] = "https://belajar.example.id"
        email = emails.reset_password(to="ana@example.com", name="Ana Putri", token="abc.def")
    assert email.to == "ana@example.com" and email.subject == "Reset your password"
    assert "Hello Ana Putri," in email.text
    assert "https://belajar.example.id/reset-password/abc.def" in email.text


def test_account_emails_link_to_the_host_of_the_request(app):
    with app.test_request_context(base_url="https://kelas.example.id"):
        email = emails.invitation(to="budi@example.com", name="Budi", token="t0ken")
    assert "https://kelas.example.id/invitation/t0ken" in email.text
    assert "budi@example.com" in email.text


def test_an_email_is_written_in_the_recipients_language(app):
    with app.test_request_context():
        email = emails.verify_email(to="ana@example.com", name="Ana", token="x", language="id")
    assert email.subject == "Konfirmasi alamat email Anda"
    assert email.text.startswith("Halo Ana,")


def test_a_notification_email_carries_its_unsubscribe_header(app):
    with app.app_context():
        email = emails.notification(to="ana@example.com", name="Ana", title="Pelajaran baru", message="Buka",
                                    kind_name="Lessons", link=None, unsubscribe_url="https://x/u/1",
                                    preferences_url="https://x/p", body_html="<p>Halo</p>")
    assert email.headers == {"List-Unsubscribe": "<https://x/u/1>"}
    assert "<p>Halo</p>" in email.html and "Pelajaran baru" in email.text


@pytest.mark.parametrize("path", sorted(SERVICES.glob("*.py")), ids=lambda p: p.name)
def test_no_service_renders_a_template(path):
    # Services hand plain values to babyowl.emails; templates (and so HTML escaping rules) stay at the edges.
    tree = ast.parse(path.read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert "render_template" not in imported
