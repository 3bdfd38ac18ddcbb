"""Two languages: Accept-Language, the remembered switch, local dates and Rupiah."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal


def test_accept_language_id_shows_indonesian(client):
    html = client.get("/", headers={"Accept-Language": "id-ID,id;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert "Masuk" in html  # "Sign in"
    assert 'lang="id"' in html


def test_accept_language_en_shows_english(client):
    html = client.get("/", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert "Sign in" in html and "Masuk" not in html


def test_the_switch_changes_the_language_from_then_on(client):
    response = client.post("/language", data={"lang": "id", "next": "/login"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    html = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Kata sandi" in html  # "Password", though the browser asks for English
    client.post("/language", data={"lang": "en"})
    assert "Password" in client.get("/login", headers={"Accept-Language": "id"}).get_data(as_text=True)


def test_the_switch_refuses_an_unknown_language_and_changes_nothing(client):
    response = client.post("/language", data={"lang": "xx", "next": "/"})
    assert response.status_code == 303
    assert "babyowl_lang" not in response.headers.get("Set-Cookie", "")
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "That language is not available." in html


def test_the_switch_never_redirects_off_site(client):
    response = client.post("/language", data={"lang": "en", "next": "https://evil.example/phish"})
    assert response.headers["Location"] == "/"


def test_money_and_times_follow_the_locale_and_school_time_zone(app, db):
    from flask_babel import force_locale

    from babyowl.i18n import datetime_local, money

    moment = datetime(2026, 3, 1, 17, 30, tzinfo=timezone.utc)  # 00:30 the next day in Jakarta
    with app.test_request_context("/"):
        with force_locale("id"):
            assert money(Decimal("1500000")) == "Rp 1.500.000"
            assert "00.30" in datetime_local(moment) and "2 Mar 2026" in datetime_local(moment)
        with force_locale("en"):
            assert money(Decimal("1500000")) == "IDR 1,500,000"
            assert "12:30" in datetime_local(moment) and "Mar 2, 2026" in datetime_local(moment)


def test_every_string_in_the_code_has_an_indonesian_translation(tmp_path):
    """Extracts the strings afresh, so a string added without its translation fails here."""
    import subprocess
    import sys
    from pathlib import Path

    from babel.messages.pofile import read_po

    project = Path(__file__).parents[2]
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
                    "-k", "_l", "-o", str(pot), "babyowl"], cwd=project, check=True)
    with open(pot, "rb") as handle:
        in_code = {m.id for m in read_po(handle) if m.id}
    with open(project / "babyowl" / "translations" / "id" / "LC_MESSAGES" / "messages.po", "rb") as handle:
        catalog = read_po(handle)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    assert sorted(in_code - translated, key=str) == []


def test_templates_switch_language_inside_a_request_when_an_email_needs_the_readers(app):
    # Translations are looked up once per request and language (i18n._page_translations): an email rendered in
    # its reader's language in the middle of an Indonesian page must still come out in English, and back.
    from flask import render_template_string
    from flask_babel import force_locale

    with app.test_request_context("/", headers={"Cookie": "babyowl_lang=id"}):
        assert render_template_string("{{ _('Sign out') }}") == "Keluar"
        with force_locale("en"):
            assert render_template_string("{{ _('Sign out') }}") == "Sign out"
        assert render_template_string("{{ _('Sign out') }}") == "Keluar"
