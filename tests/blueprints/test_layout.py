"""The base layout: pages and htmx fragments, error pages, security headers, static files."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import abort

from tests.factories import make_class, make_enrollment

HX = {"HX-Request": "true"}


def test_home_page_renders_a_whole_page_with_htmx_served_locally(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<!doctype html>" in html
    version = (Path(client.application.static_folder) / "vendor" / "htmx" / "VERSION").read_text().strip()
    assert f"/static/vendor/htmx@{version}/htmx.min.js" in html  # the pinned version in the URL
    assert "HX-Request" in response.headers["Vary"]
    assert client.get(f"/static/vendor/htmx@{version}/htmx.min.js").status_code == 200


def test_vendored_htmx_is_version_2_with_its_licence(app):
    vendor = Path(app.static_folder) / "vendor" / "htmx"
    assert (vendor / "VERSION").read_text().startswith("2.")
    assert "BSD" in (vendor / "LICENSE").read_text() or "Zero-Clause" in (vendor / "LICENSE").read_text()


def test_every_response_carries_security_headers(client):
    headers = client.get("/").headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"


def test_an_htmx_request_gets_only_the_block(client):
    response = client.get("/login", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<form id="login-form"')
    assert "<html" not in html


def test_a_history_restore_gets_the_whole_page(client):
    response = client.get("/login", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in response.get_data(as_text=True)


def test_missing_page_is_a_404_page_and_an_htmx_fragment(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert "<html" in page.get_data(as_text=True) and "Page not found" in page.get_data(as_text=True)
    fragment = client.get("/no-such-page", headers=HX)
    assert fragment.status_code == 404
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and 'data-status="404"' in text


@pytest.mark.parametrize("code, title", [(400, "Bad request"), (403, "Not allowed"), (429, "Too many requests"),
                                         (500, "Something went wrong")])
def test_error_pages_render_as_page_and_fragment(make_app, db, code, title):
    app = make_app()

    @app.route("/boom")
    def boom():
        if code == 500:
            raise RuntimeError("unexpected")
        abort(code)

    client = app.test_client()
    page = client.get("/boom")
    assert page.status_code == code
    assert title in page.get_data(as_text=True) and "<html" in page.get_data(as_text=True)
    fragment = client.get("/boom", headers=HX)
    assert fragment.status_code == code
    assert title in fragment.get_data(as_text=True) and "<html" not in fragment.get_data(as_text=True)


def test_a_post_without_csrf_token_is_refused_with_a_reload_message(make_app, db):
    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    response = client.post("/language", data={"lang": "id"}, headers=HX)
    assert response.status_code == 400
    assert "Reload the page" in response.get_data(as_text=True)
    assert "babyowl_lang" not in response.headers.get("Set-Cookie", "")


def test_a_csrf_token_in_the_htmx_header_is_accepted(make_app, db):
    import re

    app = make_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    response = client.post("/language", data={"lang": "id", "next": "/"}, headers={**HX, "X-CSRFToken": token})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/"


def test_signed_out_htmx_request_is_told_to_redirect_not_given_the_login_page(client):
    response = client.get("/dashboard", headers=HX)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/login?next=")
    plain = client.get("/dashboard")
    assert plain.status_code == 303
    assert plain.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("role, visible, hidden", [
    ("student", ["Dashboard"], ["Classes in progress"]),
    ("staff", ["Dashboard", "Classes in progress"], []),
    ("super_admin", ["Dashboard", "Administrator"], []),
])
def test_navigation_and_dashboard_follow_the_role(client, login_as, role, visible, hidden):
    login_as(role)
    html = client.get("/dashboard").get_data(as_text=True)
    for text in visible:
        assert text in html
    for text in hidden:
        assert text not in html


def test_a_student_dashboard_lists_their_classes_with_credits(client, login_as):
    student = login_as("student")
    school_class = make_class(name="Python Grup Sabtu", total_meetings=10)
    make_enrollment(school_class, student, credits_used=3)
    make_class(name="Someone else's class")
    html = client.get("/dashboard").get_data(as_text=True)
    assert "Python Grup Sabtu" in html
    assert "Credits remaining: 7" in html
    assert "Someone else" not in html


def test_an_instructor_sees_only_their_own_classes(client, login_as):
    instructor = login_as("instructor")
    make_class(name="Mine", instructor=instructor)
    make_class(name="Not mine")
    html = client.get("/dashboard").get_data(as_text=True)
    assert "Mine" in html and "Not mine" not in html


def test_the_staff_dashboard_runs_a_fixed_number_of_queries(client, login_as, count_queries):
    login_as("staff")
    for _ in range(2):
        school_class = make_class()
        make_enrollment(school_class)
    with count_queries() as few:
        client.get("/dashboard")
    for _ in range(5):
        school_class = make_class()
        make_enrollment(school_class)
    with count_queries() as many:
        html = client.get("/dashboard").get_data(as_text=True)
    assert html.count("<tr>") == 1 + 7
    assert len(many) == len(few)
