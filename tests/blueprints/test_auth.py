"""Signing in and out (the full account features come with the accounts issue)."""
from __future__ import annotations

from babyowl.models import User
from tests.factories import PASSWORD, make_user


def test_sign_in_with_the_right_password_opens_the_dashboard(client, db):
    user = make_user("instructor", email="budi@example.com")
    response = client.post("/login", data={"email": "Budi@Example.com ", "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/dashboard"
    db.session.expire_all()
    assert db.session.get(User, user.id).last_login_at is not None
    assert client.get("/dashboard").status_code == 200


def test_a_wrong_password_is_refused_with_a_message(client, db):
    make_user(email="siti@example.com")
    response = client.post("/login", data={"email": "siti@example.com", "password": "wrong"})
    assert response.status_code == 422
    assert "The email or password is not correct." in response.get_data(as_text=True)
    assert client.get("/dashboard").status_code == 303


def test_a_suspended_account_cannot_sign_in(client, db):
    make_user(email="off@example.com", status="suspended")
    response = client.post("/login", data={"email": "off@example.com", "password": PASSWORD})
    assert response.status_code == 422
    assert "suspended" in response.get_data(as_text=True)


def test_an_empty_form_shows_field_errors_not_a_500(client, db):
    response = client.post("/login", data={}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "This field is required." in response.get_data(as_text=True)


def test_sign_in_follows_next_only_on_this_site(client, db):
    make_user(email="n@example.com")
    response = client.post("/login?next=//evil.example/x", data={"email": "n@example.com", "password": PASSWORD})
    assert response.headers["Location"] == "/dashboard"


def test_sign_out_is_a_post(client, login_as):
    login_as("student")
    assert client.get("/logout").status_code == 405
    response = client.post("/logout")
    assert response.status_code == 303
    assert client.get("/dashboard").status_code == 303


def test_a_suspended_account_loses_access_at_its_next_request(client, login_as, db):
    user = login_as("staff")
    assert client.get("/dashboard").status_code == 200
    user.status = "suspended"
    db.session.commit()
    assert client.get("/dashboard").status_code == 303
