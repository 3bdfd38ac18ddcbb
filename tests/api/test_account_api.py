"""The operations the API lacked: withdrawing and continuing a class, editing a scheduled announcement, a person's
profile and picture, their signed-in devices (API tokens included), their data, and erasure."""
from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from babyowl.models import ClassEnrollment, SchoolClass, User, UserSession
from tests.api.test_access import TINY_PNG
from tests.factories import PASSWORD, make_class, make_enrollment, make_user


def _data(response, status: int = 200):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.get_json()
    assert body["success"] is True
    return body["data"]


def _refusal(response, status: int, code: str | None = None, reason: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    error = response.get_json()["error"]
    assert error["message"]
    if code:
        assert error["code"] == code
    if reason:
        assert error["details"].get("reason") == reason
    return error


# --- Withdrawing and continuing ------------------------------------------------------------------------------------

def test_staff_withdraw_a_student_who_keeps_their_history(client, db, api_as, bearer):
    _, staff = api_as("staff")
    instructor = make_user("instructor")
    school_class = make_class(instructor=instructor)
    enrollment = make_enrollment(school_class)
    student = db.session.get(User, enrollment.student_id)
    _refusal(client.post(f"/api/v1/enrollments/{enrollment.id}/withdraw", headers=bearer(instructor)), 403)
    withdrawn = _data(client.post(f"/api/v1/enrollments/{enrollment.id}/withdraw", headers=staff))
    assert withdrawn["status"] == "withdrawn" and withdrawn["student_id"] == str(student.id)
    db.session.expire_all()
    assert db.session.get(ClassEnrollment, enrollment.id).status == "withdrawn"  # the row (and its history) stays
    assert db.session.get(SchoolClass, school_class.id).current_capacity == 0
    _refusal(client.post(f"/api/v1/enrollments/{enrollment.id}/withdraw", headers=staff), 409, "CONFLICT")
    _refusal(client.post(f"/api/v1/enrollments/{uuid.uuid4()}/withdraw", headers=staff), 404)
    assert _data(client.get("/api/v1/classes", headers=bearer(student))) == []  # no longer their class


def test_staff_continue_a_group_class_as_a_private_one(client, db, api_as, bearer):
    _, staff = api_as("staff")
    group = make_class(instructor=make_user("instructor"))
    enrollment = make_enrollment(group)
    url = f"/api/v1/classes/{group.id}/continue"
    body = {"student_id": str(enrollment.student_id), "name": "Budi — privat", "total_meetings": 4}
    private = _data(client.post(url, headers=staff, json=body), 201)
    assert private["type"] == "private" and private["total_meetings"] == 4 and private["current_capacity"] == 1
    assert db.session.get(SchoolClass, uuid.UUID(private["id"])).continued_from_class_id == group.id
    _refusal(client.post(url, headers=staff, json={**body, "student_id": str(make_user("student").id)}), 422)
    _refusal(client.post(url, headers=staff, json={"name": "x"}), 422, "VALIDATION_ERROR")
    _refusal(client.post(url, headers=bearer(group.instructor), json=body), 403)
    draft = make_class(status="draft")
    make_enrollment(draft, db.session.get(User, enrollment.student_id))
    _refusal(client.post(f"/api/v1/classes/{draft.id}/continue", headers=staff, json=body), 409)
    _refusal(client.post(f"/api/v1/classes/{uuid.uuid4()}/continue", headers=staff, json=body), 404)


# --- Editing a scheduled announcement -------------------------------------------------------------------------------

def test_a_scheduled_announcement_changes_until_it_is_sent(client, db, api_as, bearer):
    instructor = make_user("instructor")
    school_class = make_class(instructor=instructor)
    student = make_enrollment(school_class).student_id
    headers = bearer(instructor)
    later = (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()
    scheduled = _data(client.post(f"/api/v1/classes/{school_class.id}/announcements", headers=headers,
                                  json={"title": "Ujian", "content": "Senin", "send_at": later}), 201)
    url = f"/api/v1/announcements/{scheduled['id']}"
    sooner = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0)
    changed = _data(client.put(url, headers=headers, json={"title": "Ujian akhir", "content": "Selasa **pagi**",
                                                           "send_at": sooner.isoformat()}))
    assert changed["title"] == "Ujian akhir" and "<strong>pagi</strong>" in changed["content_html"]
    assert datetime.fromisoformat(changed["scheduled_at"].replace("Z", "+00:00")) == sooner
    assert changed["sent_at"] is None
    _refusal(client.put(url, headers=headers, json={"title": "X", "content": "Y", "send_at": "2000-01-01T00:00:00Z"}),
             422)
    # A time without its offset is refused, never guessed (nor a 500).
    _refusal(client.put(url, headers=headers, json={"title": "X", "content": "Y", "send_at": "2030-01-01T10:00:00"}),
             422, "VALIDATION_ERROR")
    _refusal(client.put(url, headers=bearer(make_user("instructor")), json={"title": "X", "content": "Y"}), 403)
    _refusal(client.put(url, headers=bearer(db.session.get(User, student)), json={"title": "X", "content": "Y"}), 403)
    _refusal(client.put(f"/api/v1/announcements/{uuid.uuid4()}", headers=headers, json={"title": "X", "content": "Y"}),
             404)
    sent = _data(client.post(f"/api/v1/classes/{school_class.id}/announcements", headers=headers,
                             json={"title": "Libur", "content": "Besok"}), 201)
    _refusal(client.put(f"/api/v1/announcements/{sent['id']}", headers=headers, json={"title": "X", "content": "Y"}),
             409, reason="ANNOUNCEMENT_CLOSED")
    _data(client.post(f"{url}/cancel", headers=headers))
    _refusal(client.put(url, headers=headers, json={"title": "X", "content": "Y"}), 409, reason="ANNOUNCEMENT_CLOSED")


# --- Profile -------------------------------------------------------------------------------------------------------

def test_my_profile_name_and_about_me(client, db, api_as):
    user, headers = api_as("student", full_name="Ani")
    profile = _data(client.get("/api/v1/me/profile", headers=headers))
    assert profile["full_name"] == "Ani" and profile["has_avatar"] is False and profile["email"] == user.email
    changed = _data(client.patch("/api/v1/me/profile", headers=headers, json={"bio": "Suka Python"}))
    assert changed["full_name"] == "Ani" and changed["bio"] == "Suka Python"  # a field not sent keeps its value
    renamed = _data(client.patch("/api/v1/me/profile", headers=headers, json={"full_name": "Ani Lestari", "bio": ""}))
    assert renamed["full_name"] == "Ani Lestari" and renamed["bio"] is None
    _refusal(client.patch("/api/v1/me/profile", headers=headers, json={"full_name": ""}), 422, "VALIDATION_ERROR")
    _refusal(client.patch("/api/v1/me/profile", headers=headers, json={"full_name": "   "}), 422)
    db.session.expire_all()
    assert db.session.get(User, user.id).full_name == "Ani Lestari"


def test_my_picture_uploaded_read_and_removed(client, db, api_as):
    _user, headers = api_as("student")
    _refusal(client.get("/api/v1/me/profile/avatar", headers=headers), 404)
    uploaded = client.put("/api/v1/me/profile/avatar", headers=headers, content_type="multipart/form-data",
                          data={"file": (io.BytesIO(TINY_PNG), "me.png")})
    assert _data(uploaded)["has_avatar"] is True
    picture = client.get("/api/v1/me/profile/avatar", headers=headers)
    assert picture.status_code == 200 and picture.mimetype == "image/jpeg" and picture.data[:2] == b"\xff\xd8"
    _refusal(client.put("/api/v1/me/profile/avatar", headers=headers, content_type="multipart/form-data",
                        data={"file": (io.BytesIO(b"not a picture"), "me.png")}), 422)
    _refusal(client.put("/api/v1/me/profile/avatar", headers=headers, content_type="multipart/form-data",
                        data={"other": "x"}), 422)
    assert _data(client.get("/api/v1/me/profile", headers=headers))["has_avatar"] is True  # the refusals kept it
    assert _data(client.delete("/api/v1/me/profile/avatar", headers=headers))["has_avatar"] is False
    _refusal(client.get("/api/v1/me/profile/avatar", headers=headers), 404)


# --- Devices -------------------------------------------------------------------------------------------------------

def _sign_in(client, user, device: str) -> dict:
    data = _data(client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD},
                             headers={"User-Agent": device}))
    return {"access": {"Authorization": f"Bearer {data['access_token']}"},
            "refresh": {"Authorization": f"Bearer {data['refresh_token']}"}}


def test_signing_a_device_out_ends_its_api_tokens(client, db):
    user = make_user("student")
    phone, laptop = _sign_in(client, user, "phone-app/1.0"), _sign_in(client, user, "laptop-script/2.0")
    devices = _data(client.get("/api/v1/me/devices", headers=phone["access"]))
    assert {d["device"] for d in devices} == {"phone-app/1.0", "laptop-script/2.0"}
    mine = next(d for d in devices if d["current"])
    assert mine["device"] == "phone-app/1.0" and sum(d["current"] for d in devices) == 1
    other = next(d for d in devices if not d["current"])
    _data(client.delete(f"/api/v1/me/devices/{other['id']}", headers=phone["access"]))
    _refusal(client.get("/api/v1/auth/me", headers=laptop["access"]), 401, "TOKEN_REVOKED")
    _refusal(client.post("/api/v1/auth/refresh", headers=laptop["refresh"]), 401)
    _data(client.get("/api/v1/auth/me", headers=phone["access"]))  # this device stays signed in
    _refusal(client.delete(f"/api/v1/me/devices/{other['id']}", headers=phone["access"]), 409)
    _refusal(client.delete(f"/api/v1/me/devices/{mine['id']}", headers=phone["access"]), 409)  # this one: logout
    stranger = _sign_in(client, make_user("student"), "x")
    _refusal(client.delete(f"/api/v1/me/devices/{mine['id']}", headers=stranger["access"]), 409)
    _data(client.get("/api/v1/auth/me", headers=phone["access"]))


def test_a_refreshed_pair_stays_on_its_device(client, db):
    user = make_user("student")
    phone = _sign_in(client, user, "phone-app/1.0")
    fresh = _data(client.post("/api/v1/auth/refresh", headers=phone["refresh"]))
    devices = _data(client.get("/api/v1/me/devices", headers={"Authorization": f"Bearer {fresh['access_token']}"}))
    assert len(devices) == 1 and devices[0]["current"]


def test_signing_out_everywhere_else_and_logging_out(client, db):
    user = make_user("student")
    first, second, third = (_sign_in(client, user, f"client-{n}") for n in range(3))
    ended = _data(client.post("/api/v1/me/devices/sign-out-others", headers=first["access"]))
    assert ended["signed_out"] == 2
    for other in (second, third):
        _refusal(client.get("/api/v1/auth/me", headers=other["access"]), 401)
    _data(client.post("/api/v1/auth/logout", headers=first["access"]))
    fourth = _sign_in(client, user, "client-4")
    assert [d["device"] for d in _data(client.get("/api/v1/me/devices", headers=fourth["access"]))] == ["client-4"]
    db.session.expire_all()
    assert db.session.query(UserSession).filter(UserSession.user_id == user.id,
                                                UserSession.revoked_at.is_(None)).count() == 1


def test_the_devices_page_signs_an_api_client_out(client, db, app):
    from tests.helpers import signed_in_client

    user = make_user("student")
    api_client = _sign_in(client, user, "school-script/1.0")
    browser = signed_in_client(app, user)
    page = browser.get("/account/sessions")
    assert page.status_code == 200 and "school-script/1.0" in page.get_data(as_text=True)
    assert len(_data(client.get("/api/v1/me/devices", headers=api_client["access"]))) == 2  # the browser too
    script = next(d for d in _data(client.get("/api/v1/me/devices", headers=api_client["access"])) if d["current"])
    assert browser.post(f"/account/sessions/{script['id']}/sign-out").status_code in (302, 303)
    _refusal(client.get("/api/v1/auth/me", headers=api_client["access"]), 401, "TOKEN_REVOKED")


# --- The person's data ---------------------------------------------------------------------------------------------

def test_my_data_export_is_the_pages_zip(client, db, api_as):
    user, headers = api_as("student")
    response = client.get("/api/v1/me/data-export", headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert "attachment" in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        data = json.loads(archive.read("data.json"))
    assert user.email in json.dumps(data)


def test_asking_to_be_forgotten_needs_the_password(client, db, api_as):
    user, headers = api_as("student")
    _refusal(client.post("/api/v1/me/deletion-request", headers=headers, json={"password": "salah-sekali"}), 422)
    db.session.expire_all()
    assert db.session.get(User, user.id).deletion_requested_at is None
    _data(client.post("/api/v1/me/deletion-request", headers=headers, json={"password": PASSWORD}), 202)
    db.session.expire_all()
    assert db.session.get(User, user.id).deletion_requested_at is not None
    _staff, staff = api_as("staff")
    asked = _data(client.get("/api/v1/users?deletion_requested=true", headers=staff))
    assert [u["id"] for u in asked] == [str(user.id)]  # the staff's list of who to erase


def test_only_a_super_admin_erases_and_the_tokens_end(client, db, api_as, bearer):
    student, student_headers = api_as("student")
    email = student.email
    _refusal(client.post(f"/api/v1/users/{student.id}/erase", headers=api_as("staff")[1]), 403)
    erased = _data(client.post(f"/api/v1/users/{student.id}/erase", headers=api_as("super_admin")[1]))
    assert erased["email"] != email and erased["email"].endswith("@erased.invalid")
    _refusal(client.get("/api/v1/auth/me", headers=student_headers), 401)


@pytest.mark.parametrize("path", ["/api/v1/me/devices", "/api/v1/me/profile"])
def test_the_account_operations_need_a_token(client, db, path):
    _refusal(client.get(path), 401, "UNAUTHENTICATED")
