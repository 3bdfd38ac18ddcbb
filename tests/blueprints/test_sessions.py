"""Signing out ends the session on the server; other devices stay signed in (issue 15, defect 5; ASVS V3)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from babyowl.models import UserSession
from babyowl.models.base import utcnow
from tests.factories import PASSWORD, make_user
from tests.helpers import flashes, text

PHONE = {"User-Agent": "Mozilla/5.0 (Linux; Android 14; SM-A155F) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/131.0.0.0 Mobile Safari/537.36"}
LAPTOP = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"}


def browser(app, headers=None, remember=False, email="siti@example.com"):
    """A browser that signs in through the form, as a person does."""
    client = app.test_client()
    data = {"email": email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data, headers=headers or {})
    assert response.status_code == 303, text(response)
    return client


def replay(app, cookies: dict[str, str]):
    """Another browser carrying copies of the given cookies (a stolen or kept cookie)."""
    thief = app.test_client()
    for name, value in cookies.items():
        thief.set_cookie(name, value)
    return thief


def on_sign_in_page(response) -> bool:
    return response.status_code in (302, 303) and "/login" in response.headers["Location"]


@pytest.fixture
def siti(db):
    return make_user("student", email="siti@example.com", full_name="Siti Rahma")


def test_a_session_cookie_replayed_after_sign_out_gets_the_sign_in_page(app, db, siti):
    client = browser(app)
    cookie = client.get_cookie("session").value
    assert replay(app, {"session": cookie}).get("/dashboard").status_code == 200  # the copy works while signed in

    assert client.post("/logout").status_code == 303

    assert on_sign_in_page(replay(app, {"session": cookie}).get("/dashboard"))
    assert on_sign_in_page(client.get("/dashboard"))
    [row] = db.session.scalars(select(UserSession)).all()
    assert row.revoked_at is not None


def test_a_remember_me_cookie_does_not_bring_a_signed_out_session_back(app, db, siti):
    client = browser(app, remember=True)
    remember = client.get_cookie("remember_token").value
    # The session cookie expired (24 h): the remember-me cookie alone signs the browser in again.
    assert replay(app, {"remember_token": remember}).get("/dashboard").status_code == 200

    client.post("/logout")

    assert on_sign_in_page(replay(app, {"remember_token": remember}).get("/dashboard"))


def test_signing_out_on_one_device_leaves_the_others_signed_in(app, db, siti):
    phone, laptop = browser(app, PHONE), browser(app, LAPTOP)
    phone.post("/logout")
    assert on_sign_in_page(phone.get("/dashboard"))
    assert laptop.get("/dashboard").status_code == 200


def test_the_devices_page_lists_each_signed_in_device(app, db, siti):
    phone, laptop = browser(app, PHONE), browser(app, LAPTOP)
    page = text(laptop.get("/account/sessions"))
    assert "Chrome / Android" in page and "Firefox / Windows" in page
    assert page.count("This device") == 1
    assert page.count('/sign-out"') == 1  # the other device; this one signs out from the menu
    phone.post("/logout")
    assert "Chrome / Android" not in text(laptop.get("/account/sessions"))


def test_signing_out_another_device_from_the_devices_page(app, db, siti):
    phone, laptop = browser(app, PHONE), browser(app, LAPTOP)
    phone_session = db.session.scalar(select(UserSession.id).where(UserSession.user_agent == "Chrome / Android"))
    response = laptop.post(f"/account/sessions/{phone_session}/sign-out", follow_redirects=True)
    assert "That device is signed out." in flashes(response)
    assert on_sign_in_page(phone.get("/dashboard"))
    assert laptop.get("/dashboard").status_code == 200
    # Once more: it is gone, said plainly.
    again = laptop.post(f"/account/sessions/{phone_session}/sign-out", follow_redirects=True)
    assert "This device is no longer signed in." in flashes(again)


def test_nobody_signs_out_someone_elses_session(app, db, siti):
    make_user("student", email="rudi@example.com")
    siti_phone, rudi = browser(app, PHONE), browser(app, LAPTOP, email="rudi@example.com")
    siti_session = db.session.scalar(select(UserSession.id).where(UserSession.user_agent == "Chrome / Android"))
    response = rudi.post(f"/account/sessions/{siti_session}/sign-out", follow_redirects=True)
    assert "This device is no longer signed in." in flashes(response)
    assert siti_phone.get("/dashboard").status_code == 200


def test_sign_out_everywhere_else(app, db, siti):
    phone, tablet, laptop = browser(app, PHONE), browser(app), browser(app, LAPTOP)
    response = laptop.post("/account/sessions/sign-out-others", follow_redirects=True)
    assert "2 other devices are signed out." in flashes(response)
    assert on_sign_in_page(phone.get("/dashboard")) and on_sign_in_page(tablet.get("/dashboard"))
    assert laptop.get("/dashboard").status_code == 200


def test_a_new_password_signs_out_the_other_devices_and_keeps_this_one(app, db, siti):
    phone, laptop = browser(app, PHONE), browser(app, LAPTOP, remember=True)
    response = laptop.post("/account/password", data={"current_password": PASSWORD, "password": "N3w#Password",
                                                      "confirm": "N3w#Password"})
    assert response.status_code == 303
    assert on_sign_in_page(phone.get("/dashboard"))
    assert laptop.get("/dashboard").status_code == 200
    assert db.session.scalars(select(UserSession.user_agent).where(UserSession.revoked_at.is_(None))).all() \
        == ["Firefox / Windows"]


def test_a_session_idle_longer_than_remember_me_is_over(app, db, siti):
    client = browser(app)
    db.session.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(days=31)))
    db.session.commit()
    assert on_sign_in_page(client.get("/dashboard"))


def test_last_seen_is_refreshed_without_a_write_on_every_request(app, db, siti):
    client = browser(app)
    long_ago = utcnow() - timedelta(hours=1)
    db.session.execute(update(UserSession).values(last_seen_at=long_ago))
    db.session.commit()
    client.get("/dashboard")
    db.session.expire_all()
    seen = db.session.scalar(select(UserSession.last_seen_at))
    assert seen > long_ago + timedelta(minutes=59)
    client.get("/dashboard")
    db.session.expire_all()
    assert db.session.scalar(select(UserSession.last_seen_at)) == seen  # within 5 minutes: no write


def test_sign_in_and_sign_out_work_while_redis_is_down(make_app, db, siti):
    # Sessions live in PostgreSQL: an unreachable Redis changes nothing about them.
    app = make_app(REDIS_URL="redis://127.0.0.1:6390/0")
    client = browser(app)
    cookie = client.get_cookie("session").value
    assert client.post("/logout").status_code == 303
    assert on_sign_in_page(replay(app, {"session": cookie}).get("/dashboard"))


def test_a_static_file_never_loads_the_session(app, db, siti, count_queries):
    client = browser(app)
    with count_queries() as statements:
        response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert statements == []


def test_a_suspension_ends_every_session_for_good(app, db, siti):
    phone = browser(app, PHONE)
    staff = make_user("staff")
    from tests.helpers import signed_in_client

    office = signed_in_client(app, staff)
    office.post(f"/admin/users/{siti.id}/status", data={"status": "suspended"})
    assert on_sign_in_page(phone.get("/dashboard"))
    office.post(f"/admin/users/{siti.id}/status", data={"status": "active"})
    # Reactivated: she signs in again; the old cookie stays dead.
    assert on_sign_in_page(phone.get("/dashboard"))
    assert browser(app).get("/dashboard").status_code == 200


def test_each_request_checks_its_session_with_one_query(app, db, siti, count_queries):
    from babyowl.services import sessions

    client = browser(app)
    session_id, user_id = db.session.execute(select(UserSession.id, UserSession.user_id)).one()
    db.session.expunge_all()  # nothing cached in this session: what a new request sees
    with count_queries() as statements:
        user = sessions.signed_in_user(user_id, session_id)
    assert user.email == "siti@example.com" and user.current_session_id == session_id
    assert len(statements) == 1 and "user_sessions" in statements[0]
    client.post("/logout")
    assert sessions.signed_in_user(user_id, session_id) is None


def test_the_sweep_deletes_sessions_ended_more_than_thirty_days_ago_and_keeps_the_rest(app, db, siti):
    from babyowl.services.sessions import prune_ended_sessions

    browser(app, PHONE), browser(app)  # two more devices signed in
    laptop = browser(app, LAPTOP)
    laptop.post("/account/sessions/sign-out-others")  # phone and tablet revoked today: kept for the list/export
    assert prune_ended_sessions() == 0
    db.session.execute(update(UserSession).where(UserSession.user_agent.contains("Android"))
                       .values(revoked_at=utcnow() - timedelta(days=31)))
    db.session.commit()
    assert prune_ended_sessions() == 1
    db.session.expire_all()
    assert len(db.session.scalars(select(UserSession)).all()) == 2
    assert laptop.get("/dashboard").status_code == 200  # the live session is untouched


def test_an_unchanged_session_cookie_is_not_signed_again_on_every_page(app, db, siti):
    client = browser(app)
    assert client.get("/dashboard").status_code == 200
    again = client.get("/dashboard")
    assert again.status_code == 200 and "Set-Cookie" not in again.headers
    assert "Cookie" in again.headers["Vary"]


def test_a_session_cookie_older_than_the_refresh_margin_is_slid_forward(app, db, siti, monkeypatch):
    import itsdangerous.timed

    two_hours_ago = itsdangerous.timed.time.time() - 2 * 3600
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: two_hours_ago)
    client = browser(app)  # signed in two hours ago
    monkeypatch.undo()
    refreshed = client.get("/dashboard")
    assert refreshed.status_code == 200
    cookie = refreshed.headers["Set-Cookie"]
    assert cookie.startswith("session=") and "Expires=" in cookie  # still the permanent 24-hour session
    assert "Set-Cookie" not in client.get("/dashboard").headers  # the new cookie is fresh again


def test_a_session_cookie_older_than_its_lifetime_is_not_accepted(app, db, siti, monkeypatch):
    import itsdangerous.timed

    a_day_ago = itsdangerous.timed.time.time() - 24 * 3600 - 60
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: a_day_ago)
    client = browser(app)
    monkeypatch.undo()
    assert on_sign_in_page(client.get("/dashboard"))


def test_a_cookie_accepted_before_is_refused_once_older_than_its_lifetime(app, db, siti, monkeypatch):
    # The verified cookie is remembered by the process (babyowl/session_cookie.py); its age is still checked.
    import itsdangerous.timed

    client = browser(app)
    assert client.get("/dashboard").status_code == 200
    assert client.get("/dashboard").status_code == 200
    a_day_later = itsdangerous.timed.time.time() + 24 * 3600 + 60
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: a_day_later)
    assert on_sign_in_page(client.get("/dashboard"))
