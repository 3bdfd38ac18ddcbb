"""Accounts as a person uses them: sign up, sign in, confirm the address, passwords, onboarding, profile, data."""
from __future__ import annotations

import re

import io
import json
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import itsdangerous.timed
import pytest
from PIL import Image
from sqlalchemy import select

from babyowl.models import User
from babyowl.models.base import utcnow
from babyowl.services import tokens
from babyowl.services.passwords import check_password
from tests.helpers import flashes, links_in_mail, mails, reload, signed_in_client, text, users_with_email
from tests.factories import PASSWORD, make_user

NEW_PASSWORD = "N3w#Password"
HX = {"HX-Request": "true"}


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(MAIL_BACKEND="file", STORAGE_DIR=str(tmp_path / "files"))


@pytest.fixture
def mail_dir(tmp_path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def storage_dir(tmp_path) -> Path:
    return tmp_path / "files"


# --- helpers ------------------------------------------------------------------

def sign_in(client, address: str, password: str, **extra):
    return client.post("/login", data={"email": address, "password": password, **extra})


def register(client, **fields):
    data = {"full_name": "Ana Putri", "email": "ana@example.com", "password": PASSWORD, "confirm": PASSWORD,
            **fields}
    return client.post("/register", data=data)


def png(size=(600, 400)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "orange").save(out, "PNG")
    return out.getvalue()


def old_token(monkeypatch, purpose: str, user: User, age: int) -> str:
    """A link made `age` seconds ago."""
    with monkeypatch.context() as m:
        m.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: int(time.time()) - age)
        return tokens.make_token(purpose, user)


def tampered(path: str) -> str:
    head, _, token = path.rpartition("/")
    signature = token.rsplit(".", 1)[-1]
    index = len(token) - len(signature) + 10  # a middle character: all six bits count
    token = token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1:]
    return f"{head}/{token}"


def about(moment: datetime | None, expected: datetime) -> bool:
    return moment is not None and abs((moment - expected).total_seconds()) < 120


# --- registration -------------------------------------------------------------

def test_registering_creates_a_student_signs_in_and_sends_a_verification_link(client, db, mail_dir):
    response = register(client, email="Ana@Example.com", role="super_admin")
    assert response.status_code == 303
    assert response.headers["Location"] == "/welcome"
    user = db.session.scalar(select(User).where(User.email == "ana@example.com"))
    assert (user.role, user.status, user.email_verified, user.onboarding_completed) == (
        "student", "active", False, False)
    [message] = mails(mail_dir)
    assert message["To"] == "ana@example.com"
    assert [link for link in links_in_mail(mail_dir) if link.startswith("/verify-email/")]
    # Signed in, but the dashboard waits for onboarding.
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 303
    assert dashboard.headers["Location"] == "/welcome"
    assert client.get("/welcome").status_code == 200


def test_registration_closed_answers_403_and_creates_nobody(make_app, db):
    closed = make_app(ALLOW_SELF_REGISTRATION=False).test_client()
    page = closed.get("/register")
    assert page.status_code == 403
    assert "Sign-up is closed. Ask the school to create your account." in text(page)
    response = register(closed)
    assert response.status_code == 403
    assert "Sign-up is closed" in text(response)
    assert users_with_email(db, "ana@example.com") == 0


def test_an_email_already_used_in_any_case_is_refused(client, db, mail_dir):
    make_user(email="ana@example.com")
    response = register(client, email="ANA@example.COM")
    assert response.status_code == 422
    assert "An account with this email already exists." in text(response)
    assert users_with_email(db, "ana@example.com") == 1
    assert mails(mail_dir) == []


def test_a_confirmation_that_does_not_match_is_refused(client, db):
    response = register(client, confirm="Other#123")
    assert response.status_code == 422
    assert "The two passwords are not the same." in text(response)
    assert users_with_email(db, "ana@example.com") == 0


RULES = {
    "length": ("Ab1!xyz", "Use at least 8 characters."),
    "uppercase": ("abcdef1!", "Add an uppercase letter."),
    "lowercase": ("ABCDEF1!", "Add a lowercase letter."),
    "digit": ("Abcdefg!", "Add a digit."),
    "special": ("Abcdefg1", "Add a special character such as ! ? # or @."),
}


@pytest.mark.parametrize("rule", RULES)
def test_a_weak_password_is_refused_with_the_rule_it_misses(client, db, rule):
    password, message = RULES[rule]
    response = register(client, password=password, confirm=password)
    assert response.status_code == 422
    page = text(response)
    assert message in page
    for other, other_message in RULES.values():
        if other_message != message:
            assert other_message not in page
    assert password not in response.get_data(as_text=True) and password not in page
    assert users_with_email(db, "ana@example.com") == 0


# --- sign-in ------------------------------------------------------------------

@pytest.mark.parametrize("address, password", [("siti@example.com", "Wrong#123"), ("nobody@example.com", PASSWORD)])
def test_a_wrong_password_and_an_unknown_email_get_the_same_message(client, db, address, password):
    make_user(email="siti@example.com")
    response = sign_in(client, address, password)
    assert response.status_code == 422
    assert "The email or password is not correct." in text(response)
    assert client.get("/dashboard").headers["Location"].startswith("/login")


@pytest.mark.parametrize("status, message", [
    ("suspended", "This account is suspended. Please contact the school."),
    ("inactive", "This account is not active. Please contact the school."),
])
def test_a_closed_account_cannot_sign_in_and_is_told_why(client, db, status, message):
    user = make_user(email="off@example.com", status=status)
    response = sign_in(client, "off@example.com", PASSWORD)
    assert response.status_code == 422
    assert message in text(response)
    assert reload(db, user).last_login_at is None


def test_signing_in_records_the_time_and_sets_a_24_hour_session(client, db):
    user = make_user(email="siti@example.com")
    response = sign_in(client, "siti@example.com", PASSWORD)
    assert response.status_code == 303
    now = datetime.now(timezone.utc)
    assert about(reload(db, user).last_login_at, now)
    session = client.get_cookie("session")
    assert session is not None and about(session.expires, now + timedelta(hours=24))
    assert client.get_cookie("remember_token") is None


def test_remember_me_keeps_the_person_signed_in_for_30_days(client, db):
    make_user(email="siti@example.com")
    sign_in(client, "siti@example.com", PASSWORD, remember="y")
    remember = client.get_cookie("remember_token")
    assert remember is not None
    assert about(remember.expires, datetime.now(timezone.utc) + timedelta(days=30))


# --- email verification -------------------------------------------------------

def test_the_emailed_link_confirms_the_address(client, db, mail_dir):
    register(client)
    [link] = links_in_mail(mail_dir)
    response = client.get(link, follow_redirects=True)
    assert "Thank you, your email address is confirmed." in flashes(response)
    user = db.session.scalar(select(User).where(User.email == "ana@example.com"))
    assert user.email_verified is True


def test_a_tampered_link_is_not_valid(client, db, mail_dir):
    register(client)
    [link] = links_in_mail(mail_dir)
    response = client.get(tampered(link))
    assert response.status_code == 400
    assert "This link is not valid" in text(response)
    assert db.session.scalar(select(User.email_verified).where(User.email == "ana@example.com")) is False


def test_a_link_older_than_its_lifetime_has_expired(app, client, db, monkeypatch):
    user = make_user(email_verified=False)
    token = old_token(monkeypatch, tokens.VERIFY_EMAIL, user, app.config["EMAIL_VERIFICATION_MAX_AGE"] + 60)
    response = client.get(f"/verify-email/{token}")
    assert response.status_code == 400
    assert "This link has expired." in text(response)
    assert reload(db, user).email_verified is False


def test_asking_again_sends_a_new_link(client, login_as, db, mail_dir):
    user = login_as("student", email_verified=False)
    response = client.post("/verify-email")
    assert response.status_code == 303
    [message] = mails(mail_dir)
    assert message["To"] == user.email
    [link] = links_in_mail(mail_dir)
    assert link.startswith("/verify-email/")
    client.get(link)
    assert reload(db, user).email_verified is True


# --- forgotten password -------------------------------------------------------

def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(client, db, mail_dir):
    make_user(email="siti@example.com")
    known = client.post("/forgot-password", data={"email": "siti@example.com"})
    unknown = client.post("/forgot-password", data={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 303
    assert known.headers["Location"] == unknown.headers["Location"] == "/login"
    known_page = client.get("/login")  # shows both flashes, in order
    known_text, unknown_text = flashes(known_page)
    assert known_text.replace("siti@example.com", "X") == unknown_text.replace("nobody@example.com", "X")
    assert [m["To"] for m in mails(mail_dir)] == ["siti@example.com"]


def test_a_suspended_account_gets_no_reset_email(client, db, mail_dir):
    make_user(email="off@example.com", status="suspended")
    response = client.post("/forgot-password", data={"email": "off@example.com"})
    assert response.status_code == 303
    assert mails(mail_dir) == []


@pytest.fixture
def reset_link(client, db, mail_dir):
    """Siti asks for a reset link; returns (siti, the link's path)."""
    siti = make_user(email="siti@example.com")
    client.post("/forgot-password", data={"email": "siti@example.com"})
    [link] = links_in_mail(mail_dir, to="siti@example.com")
    assert link.startswith("/reset-password/")
    return siti, link


def test_the_reset_link_shows_the_form_and_sets_the_new_password(app, client, db, reset_link):
    siti, link = reset_link
    page = client.get(link)
    assert page.status_code == 200
    assert "Choose a new password" in text(page) and "siti@example.com" in text(page)
    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/dashboard"
    assert sign_in(app.test_client(), "siti@example.com", NEW_PASSWORD).status_code == 303
    assert sign_in(app.test_client(), "siti@example.com", PASSWORD).status_code == 422


def test_a_reset_link_works_only_once(client, db, reset_link):
    _, link = reset_link
    client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    again = client.post(link, data={"password": "Th1rd#Password", "confirm": "Th1rd#Password"})
    assert again.status_code == 400
    assert "already been used" in text(again)
    assert client.get(link).status_code == 400


def test_a_reset_link_older_than_an_hour_has_expired(client, db, monkeypatch):
    siti = make_user()
    token = old_token(monkeypatch, tokens.RESET_PASSWORD, siti, 3600 + 60)
    response = client.post(f"/reset-password/{token}", data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 400
    assert "expired" in text(response)
    assert check_password(PASSWORD, reload(db, siti).password_hash)


def test_a_weak_new_password_is_refused_and_the_old_one_stays(client, db, reset_link):
    siti, link = reset_link
    response = client.post(link, data={"password": "abcdef1!", "confirm": "abcdef1!"})
    assert response.status_code == 422
    assert "Add an uppercase letter." in text(response)
    assert check_password(PASSWORD, reload(db, siti).password_hash)


def test_resetting_the_password_signs_out_other_browsers(app, client, db, reset_link):
    siti, link = reset_link
    laptop = signed_in_client(app, siti)
    assert laptop.get("/dashboard").status_code == 200
    client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    response = laptop.get("/dashboard")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login")


# --- changing the password ----------------------------------------------------

def test_a_wrong_current_password_changes_nothing(client, login_as, db):
    user = login_as("student")
    response = client.post("/account/password", data={"current_password": "Wrong#123", "password": NEW_PASSWORD,
                                                      "confirm": NEW_PASSWORD})
    assert response.status_code == 422
    assert "Your current password is not correct." in text(response)
    assert check_password(PASSWORD, reload(db, user).password_hash)


def test_changing_the_password_keeps_this_browser_and_signs_out_the_others(app, client, login_as, db):
    user = login_as("student")
    phone = signed_in_client(app, user)
    response = client.post("/account/password", data={"current_password": PASSWORD, "password": NEW_PASSWORD,
                                                      "confirm": NEW_PASSWORD})
    assert response.status_code == 303
    assert check_password(NEW_PASSWORD, reload(db, user).password_hash)
    assert client.get("/dashboard").status_code == 200
    signed_out = phone.get("/dashboard")
    assert signed_out.status_code == 303
    assert signed_out.headers["Location"].startswith("/login")


# --- onboarding ---------------------------------------------------------------

def test_a_new_user_is_sent_to_the_welcome_page_first(client, login_as):
    login_as("student", onboarding_completed=False)
    response = client.get("/dashboard")
    assert response.status_code == 303
    assert response.headers["Location"] == "/welcome"
    htmx = client.get("/dashboard", headers=HX)
    assert htmx.headers["HX-Redirect"] == "/welcome"


def test_nothing_the_welcome_page_polls_sends_it_back_to_itself(client, login_as):
    # A poll answered with HX-Redirect to /welcome reloads /welcome, which polls again: for ever.
    login_as("student", onboarding_completed=False)
    page = client.get("/welcome").get_data(as_text=True)
    polled = re.findall(r'hx-get="([^"]+)"[^>]*hx-trigger="[^"]*every', page)
    assert len(polled) >= 2  # the notification bell and the messages badge
    for url in polled:
        answer = client.get(url, headers=HX)
        assert answer.status_code == 200 and "HX-Redirect" not in answer.headers, url


def test_saving_the_welcome_form_finishes_onboarding(client, login_as, db):
    user = login_as("student", onboarding_completed=False)
    response = client.post("/welcome", data={"full_name": "Ana Putri", "bio": "I like Python."})
    assert response.status_code == 303
    assert response.headers["Location"] == "/dashboard"
    user = reload(db, user)
    assert (user.onboarding_completed, user.full_name, user.bio) == (True, "Ana Putri", "I like Python.")
    assert client.get("/dashboard").status_code == 200


def test_an_uploaded_picture_is_shrunk_to_a_256_px_jpeg(client, login_as, db):
    user = login_as("student", onboarding_completed=False)
    response = client.post("/welcome", data={"full_name": "Ana", "picture": (io.BytesIO(png((600, 400))), "me.png")})
    assert response.status_code == 303
    key = reload(db, user).avatar
    assert key and key.startswith("avatars/")
    picture = client.get(f"/avatars/{key}")
    assert picture.status_code == 200
    assert picture.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(picture.data))
    assert image.format == "JPEG"
    assert image.size == (256, 171)


def test_a_file_that_is_not_a_picture_is_refused_and_nothing_changes(client, login_as, db, storage_dir):
    user = login_as("student", onboarding_completed=False, full_name="Ana")
    response = client.post("/welcome", data={"full_name": "Ana Putri",
                                             "picture": (io.BytesIO(b"just some text"), "picture.png")})
    assert response.status_code == 422
    assert "This file is not a picture we can read." in text(response)
    user = reload(db, user)
    assert (user.onboarding_completed, user.avatar, user.full_name) == (False, None, "Ana")
    assert not list(storage_dir.glob("avatars/*"))


def test_an_empty_name_is_refused(client, login_as, db):
    user = login_as("student", onboarding_completed=False)
    response = client.post("/welcome", data={"full_name": "  ", "bio": "Hi"})
    assert response.status_code == 422
    assert "This field is required." in text(response)
    assert reload(db, user).onboarding_completed is False


# --- profile ------------------------------------------------------------------

def no_file():
    """What a browser sends for a file input left empty."""
    return (io.BytesIO(b""), "")


def test_editing_the_name_and_bio(client, login_as, db):
    user = login_as("student")
    response = client.post("/account/profile", data={"full_name": "Ana Putri", "bio": "Learning Flask.",
                                                     "picture": no_file()})
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/profile"
    user = reload(db, user)
    assert (user.full_name, user.bio) == ("Ana Putri", "Learning Flask.")
    assert "Your profile is saved." in flashes(client.get("/account/profile"))


def test_replacing_the_picture_deletes_the_old_file(client, login_as, db, storage_dir):
    user = login_as("student")
    client.post("/account/profile", data={"full_name": "Ana", "picture": (io.BytesIO(png()), "one.png")})
    first = reload(db, user).avatar
    assert (storage_dir / first).is_file()
    response = client.post("/account/profile", data={"full_name": "Ana", "picture": (io.BytesIO(png()), "two.png")})
    assert response.status_code == 303
    second = reload(db, user).avatar
    assert second != first
    assert (storage_dir / second).is_file()
    assert not (storage_dir / first).exists()


def test_editing_the_name_keeps_the_picture(client, login_as, db, storage_dir):
    user = login_as("student")
    client.post("/account/profile", data={"full_name": "Ana", "picture": (io.BytesIO(png()), "one.png")})
    picture = reload(db, user).avatar
    response = client.post("/account/profile", data={"full_name": "Ana Putri", "bio": "", "picture": no_file()})
    assert response.status_code == 303
    user = reload(db, user)
    assert (user.full_name, user.avatar) == ("Ana Putri", picture)
    assert (storage_dir / picture).is_file()


def test_removing_the_picture(client, login_as, db, storage_dir):
    user = login_as("student")
    client.post("/account/profile", data={"full_name": "Ana", "picture": (io.BytesIO(png()), "one.png")})
    picture = reload(db, user).avatar
    response = client.post("/account/profile", data={"full_name": "Ana", "remove_avatar": "y", "picture": no_file()})
    assert response.status_code == 303
    assert reload(db, user).avatar is None
    assert not (storage_dir / picture).exists()


# --- other people's profiles --------------------------------------------------

def test_a_student_sees_their_own_profile_but_not_another_persons(client, login_as, db):
    me = login_as("student")
    classmate = make_user("student")
    assert client.get(f"/users/{me.id}").status_code == 200
    assert client.get(f"/users/{classmate.id}").status_code == 404


@pytest.mark.parametrize("role", ["staff", "super_admin"])
def test_staff_see_anyones_profile(client, login_as, db, role):
    login_as(role)
    for other in ("student", "instructor", "super_admin"):
        person = make_user(other)
        response = client.get(f"/users/{person.id}")
        assert response.status_code == 200
        assert person.full_name in text(response)


def test_an_unknown_profile_is_404(client, login_as):
    login_as("staff")
    assert client.get("/users/00000000-0000-0000-0000-000000000000").status_code == 404


# --- my data and asking to be deleted -----------------------------------------

def test_downloading_my_data_gives_a_zip_with_my_email(client, login_as):
    user = login_as("student")
    response = client.get("/account/data")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(zipfile.ZipFile(io.BytesIO(response.data)).read("data.json"))
    assert data["profile"]["email"] == user.email


def test_asking_for_deletion_needs_the_right_password(client, login_as, db):
    user = login_as("student")
    refused = client.post("/account/delete", data={"password": "Wrong#123"})
    assert refused.status_code == 422
    assert "Your current password is not correct." in text(refused)
    assert reload(db, user).deletion_requested_at is None

    response = client.post("/account/delete", data={"password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/profile"
    assert about(reload(db, user).deletion_requested_at, utcnow())
    assert "You asked for your account to be deleted on" in text(client.get("/account/profile"))
