"""User administration as staff and super admins use it: find people, create, edit, suspend, erase."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from babyowl.models import User
from babyowl.models.base import utcnow
from tests.helpers import flashes, links_in_mail, mails, reload, signed_in_client, text, users_with_email
from tests.factories import PASSWORD, make_user

NEW_PASSWORD = "N3w#Password"
HX = {"HX-Request": "true"}
USER_ROW = re.compile(r'<td><a href="/users/[0-9a-f-]{36}">')


@pytest.fixture
def app(make_app):
    return make_app(MAIL_BACKEND="file")


@pytest.fixture
def mail_dir(tmp_path) -> Path:
    return tmp_path / "mail"


# --- helpers ------------------------------------------------------------------

def rows(response) -> int:
    return len(USER_ROW.findall(response.get_data(as_text=True)))


def create(client, role="student", address="new@example.com", name="Dewi Lestari"):
    return client.post("/admin/users/new", data={"full_name": name, "email": address, "role": role})


def edit(client, user: User, **fields):
    data = {"full_name": user.full_name, "email": user.email, "role": user.role, **fields}
    return client.post(f"/admin/users/{user.id}/edit", data=data)


def set_status(client, user: User, status: str):
    return client.post(f"/admin/users/{user.id}/status", data={"status": status}, follow_redirects=True)


# --- the list -----------------------------------------------------------------

@pytest.mark.parametrize("role", ["staff", "super_admin"])
def test_staff_and_super_admins_see_the_list(client, login_as, role):
    login_as(role)
    student = make_user("student", full_name="Budi Santoso")
    response = client.get("/admin/users")
    assert response.status_code == 200
    assert "Budi Santoso" in text(response) and student.email in text(response)


@pytest.mark.parametrize("query", ["santo", "SANTO", "LESTARI@SCH", "lestari@school"])
def test_search_by_part_of_a_name_or_an_email_in_any_case(client, login_as, query):
    login_as("staff")
    make_user(full_name="Budi Santoso", email="budi.santoso@school.id")
    make_user(full_name="Dewi", email="dewi.lestari@school.id")
    make_user(full_name="Rudi Hartono", email="rudi@school.id")
    page = text(client.get("/admin/users", query_string={"q": query}))
    expected = "Budi Santoso" if "santo" in query.lower() else "dewi.lestari@school.id"
    assert expected in page
    assert "Rudi Hartono" not in page
    assert ">1 account<" in page


def test_filter_by_role_and_by_status(client, login_as):
    login_as("staff")
    make_user("instructor", full_name="Ibu Guru")
    make_user("student", full_name="Siswa Aktif")
    make_user("student", full_name="Siswa Libur", status="suspended")
    by_role = text(client.get("/admin/users?role=instructor"))
    assert "Ibu Guru" in by_role and "Siswa Aktif" not in by_role
    by_status = text(client.get("/admin/users?status=suspended"))
    assert "Siswa Libur" in by_status and "Siswa Aktif" not in by_status and "Ibu Guru" not in by_status


def test_filter_asked_for_deletion(client, login_as):
    login_as("staff")
    make_user(full_name="Wants Out", deletion_requested_at=utcnow())
    make_user(full_name="Already Gone", deletion_requested_at=utcnow(), erased_at=utcnow())
    make_user(full_name="Stays Here")
    page = text(client.get("/admin/users?deletion=1"))
    assert "Wants Out" in page
    assert "Already Gone" not in page and "Stays Here" not in page


def test_twenty_accounts_per_page(client, login_as):
    login_as("staff")
    for number in range(25):
        make_user(full_name=f"Pupil {number:02d}")
    first = client.get("/admin/users?q=pupil")
    assert rows(first) == 20
    assert "Page 1 of 2" in text(first)
    second = client.get("/admin/users?q=pupil&page=2")
    assert rows(second) == 5
    assert "Page 2 of 2" in text(second) and "Pupil 24" in text(second)


def test_the_page_links_keep_the_deletion_filter(client, login_as):
    login_as("staff")
    for number in range(21):
        make_user(full_name=f"Leaver {number:02d}", deletion_requested_at=utcnow())
    make_user(full_name="Zed Stays")
    first = client.get("/admin/users?deletion=1")
    [next_link] = re.findall(r'href="([^"]*page=2[^"]*)"', first.get_data(as_text=True))
    second = client.get(html.unescape(next_link))
    assert rows(second) == 1
    assert "Leaver 20" in text(second) and "Zed Stays" not in text(second)


def test_an_htmx_request_gets_only_the_results(client, login_as):
    login_as("staff")
    make_user(full_name="Budi Santoso")
    response = client.get("/admin/users?q=budi", headers=HX)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert page.lstrip().startswith('<div id="user-results">')
    assert "<html" not in page and "Budi Santoso" in page


@pytest.mark.parametrize("query, found, hidden", [("%", "Sure 100%", "Plain Person"),
                                                   ("_", "snake_case fan", "snakeXcase fan")])
def test_percent_and_underscore_are_searched_literally(client, login_as, query, found, hidden):
    login_as("staff")  # a staff email has no "_" in it (super_admin-… would)
    make_user(full_name=found)
    make_user(full_name=hidden)
    page = text(client.get("/admin/users", query_string={"q": query}))
    assert found in page
    assert hidden not in page


@pytest.mark.parametrize("page_number", ["abc", "999", "-3", ""])
def test_a_strange_page_number_still_shows_a_page(client, login_as, page_number):
    login_as("staff")
    make_user(full_name="Budi Santoso")
    response = client.get(f"/admin/users?page={page_number}")
    assert response.status_code == 200
    assert "Budi Santoso" in text(response)


def test_the_list_runs_as_many_queries_for_25_users_as_for_5(client, login_as, count_queries):
    login_as("staff")
    for _ in range(5):
        make_user(last_login_at=utcnow())
    with count_queries() as few:
        assert client.get("/admin/users").status_code == 200
    for _ in range(20):
        make_user(last_login_at=utcnow(), deletion_requested_at=utcnow())
    with count_queries() as many:
        assert client.get("/admin/users").status_code == 200
    assert len(many) == len(few)


# --- who may open the admin pages ---------------------------------------------

def admin_urls(app, user_id) -> list[tuple[str, str]]:
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/admin/"):
            path = rule.rule.replace("<uuid:user_id>", str(user_id))
            urls.append(("GET" if "GET" in rule.methods else "POST", path))
    return urls


@pytest.mark.parametrize("role", ["student", "instructor"])
def test_students_and_instructors_get_403_on_every_admin_page(app, client, login_as, db, role):
    login_as(role)
    target = make_user("student", full_name="Untouched")
    urls = admin_urls(app, target.id)
    assert len(urls) >= 5
    for method, path in urls:
        response = client.open(path, method=method, data={"status": "suspended", "full_name": "X",
                                                           "email": "x@example.com", "role": "student"})
        assert response.status_code == 403, path
    target = reload(db, target)
    assert (target.full_name, target.status, target.erased_at) == ("Untouched", "active", None)


def test_anonymous_visitors_are_sent_to_sign_in(app, client, db):
    target = make_user("student")
    for method, path in admin_urls(app, target.id):
        response = client.open(path, method=method)
        assert response.status_code == 303, path
        assert response.headers["Location"].startswith("/login"), path


# --- creating accounts --------------------------------------------------------

def test_staff_create_a_student_who_chooses_a_password_from_the_invitation(app, client, login_as, db, mail_dir):
    login_as("staff")
    response = create(client, "student", "Dewi@Example.com")
    assert response.status_code == 303
    dewi = db.session.scalar(select(User).where(User.email == "dewi@example.com"))
    assert response.headers["Location"] == f"/users/{dewi.id}"
    assert (dewi.role, dewi.password_hash) == ("student", None)
    [link] = links_in_mail(mail_dir, "dewi@example.com")
    assert link.startswith("/invitation/")

    browser = app.test_client()
    assert "Choose your password" in text(browser.get(link))
    chosen = browser.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert chosen.status_code == 303
    dewi = reload(db, dewi)
    assert dewi.email_verified is True
    welcome = browser.get("/welcome")  # signed in, and onboarding comes first
    assert welcome.status_code == 200 and "Welcome, Dewi Lestari!" in text(welcome)

    again = app.test_client().post(link, data={"password": "Th1rd#Password", "confirm": "Th1rd#Password"})
    assert again.status_code == 400
    assert "already been used" in text(again)


@pytest.mark.parametrize("role", ["instructor", "staff", "super_admin"])
def test_staff_cannot_create_other_roles(client, login_as, db, mail_dir, role):
    login_as("staff")
    response = create(client, role)
    assert response.status_code == 422
    assert "You cannot create an account with this role." in text(response)
    assert users_with_email(db, "new@example.com") == 0
    assert mails(mail_dir) == []


def test_a_super_admin_creates_an_instructor(client, login_as, db, mail_dir):
    login_as("super_admin")
    response = create(client, "instructor", "guru@example.com", "Pak Guru")
    assert response.status_code == 303
    assert db.session.scalar(select(User.role).where(User.email == "guru@example.com")) == "instructor"
    assert links_in_mail(mail_dir, "guru@example.com")


def test_an_email_already_in_use_is_refused(client, login_as, db, mail_dir):
    login_as("staff")
    make_user(email="dewi@example.com")
    response = create(client, "student", "DEWI@example.com")
    assert response.status_code == 422
    assert "An account with this email already exists." in text(response)
    assert users_with_email(db, "dewi@example.com") == 1
    assert mails(mail_dir) == []


# --- editing accounts ---------------------------------------------------------

def test_staff_edit_a_students_name_and_email(client, login_as, db):
    login_as("staff")
    student = make_user("student", email="old@example.com", email_verified=True)
    response = edit(client, student, full_name="Budi Baru", email="New@Example.com")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/users/{student.id}"
    student = reload(db, student)
    assert (student.full_name, student.email, student.email_verified) == ("Budi Baru", "new@example.com", False)


def test_keeping_the_same_email_keeps_it_verified(client, login_as, db):
    login_as("staff")
    student = make_user("student", email_verified=True)
    assert edit(client, student, full_name="Other Name").status_code == 303
    assert reload(db, student).email_verified is True


def test_staff_cannot_open_an_instructors_edit_page(client, login_as):
    login_as("staff")
    instructor = make_user("instructor")
    assert client.get(f"/admin/users/{instructor.id}/edit").status_code == 403


def test_staff_cannot_make_a_student_staff(client, login_as, db):
    login_as("staff")
    student = make_user("student", full_name="Budi")
    response = edit(client, student, role="staff", full_name="Budi Changed")
    assert response.status_code == 422
    assert "You cannot give this role." in text(response)
    student = reload(db, student)
    assert (student.role, student.full_name) == ("student", "Budi")


def test_a_super_admin_cannot_change_their_own_role(client, login_as, db):
    me = login_as("super_admin")
    response = edit(client, me, role="student")
    assert response.status_code == 422
    assert "You cannot change your own role." in text(response)
    assert reload(db, me).role == "super_admin"


# --- suspending and reactivating ----------------------------------------------

def test_staff_suspend_a_student_who_loses_access_at_once(app, client, login_as, db):
    login_as("staff")
    student = make_user("student", email="budi@example.com", full_name="Budi")
    students_tablet = signed_in_client(app, student)
    assert students_tablet.get("/dashboard").status_code == 200

    response = set_status(client, student, "suspended")
    assert "Budi is now suspended." in flashes(response)
    assert reload(db, student).status == "suspended"
    assert students_tablet.get("/dashboard").headers["Location"].startswith("/login")
    refused = students_tablet.post("/login", data={"email": "budi@example.com", "password": PASSWORD})
    assert refused.status_code == 422
    assert "This account is suspended." in text(refused)

    assert "Budi is now active." in flashes(set_status(client, student, "active"))
    assert reload(db, student).status == "active"
    assert students_tablet.post("/login", data={"email": "budi@example.com", "password": PASSWORD}).status_code == 303


@pytest.mark.parametrize("role", ["staff", "super_admin"])
def test_staff_cannot_suspend_staff_or_a_super_admin(client, login_as, db, role):
    login_as("staff")
    colleague = make_user(role)
    response = set_status(client, colleague, "suspended")
    assert "You cannot change this account." in flashes(response)
    assert reload(db, colleague).status == "active"


@pytest.mark.parametrize("role, message", [("super_admin", "You cannot change the status of your own account."),
                                           ("staff", "You cannot change this account.")])
def test_nobody_changes_their_own_status(client, login_as, db, role, message):
    me = login_as(role)
    response = set_status(client, me, "suspended")
    assert message in flashes(response)
    assert reload(db, me).status == "active"


def test_an_unknown_status_is_refused(client, login_as, db):
    login_as("super_admin")
    student = make_user("student")
    response = set_status(client, student, "deleted")
    assert "Unknown status." in flashes(response)
    assert reload(db, student).status == "active"


# --- erasing ------------------------------------------------------------------

def test_staff_cannot_erase(client, login_as, db):
    login_as("staff")
    student = make_user("student", full_name="Budi")
    assert client.post(f"/admin/users/{student.id}/erase").status_code == 403
    student = reload(db, student)
    assert (student.full_name, student.erased_at) == ("Budi", None)


def test_a_super_admin_erases_a_student_who_stays_anonymised(client, login_as, db):
    login_as("super_admin")
    student = make_user("student", full_name="Budi Santoso")
    response = client.post(f"/admin/users/{student.id}/erase")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/users/{student.id}"
    student = reload(db, student)
    assert student is not None
    assert student.email.startswith("erased-") and student.erased_at is not None
    assert student.full_name != "Budi Santoso"
    page = text(client.get(f"/users/{student.id}"))
    assert "This account was erased on" in page
    assert "Budi Santoso" not in page
