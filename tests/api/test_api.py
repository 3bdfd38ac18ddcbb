"""The JSON API: what an app or a school's script sends and what it gets back, refusals included."""
from __future__ import annotations

import re
import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from babyowl.models import AttendanceChange, ClassAttendance, ClassEnrollment, User
from tests.factories import PASSWORD, cookie_id_for, make_class, make_course, make_enrollment, make_user


def _data(response):
    body = response.get_json()
    assert body["success"] is True, body
    assert "timestamp" in body["meta"]
    return body["data"]


def _refusal(response, status: int, code: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["success"] is False and body["error"]["message"] and "timestamp" in body["meta"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


@pytest.fixture
def teaching(db):
    """An active class with its instructor and two students (10 credits each)."""
    instructor = make_user("instructor")
    school_class = make_class(instructor=instructor, total_meetings=10)
    first, second = make_enrollment(school_class), make_enrollment(school_class)
    return {"instructor": instructor, "class": school_class, "enrollments": [first, second]}


# --- Auth --------------------------------------------------------------------------------------------------------

def test_signing_in_gives_tokens_with_the_spec_claims(client, db):
    user = make_user("student", email="siti@example.com")
    response = client.post("/api/v1/auth/login", json={"email": "Siti@Example.com", "password": PASSWORD})
    data = _data(response)
    assert response.status_code == 200 and data["token_type"] == "Bearer" and data["user"]["id"] == str(user.id)
    from flask_jwt_extended import decode_token

    with client.application.test_request_context():
        claims = decode_token(data["access_token"])
    assert claims["userId"] == str(user.id) and claims["email"] == "siti@example.com" and claims["role"] == "student"
    assert claims["exp"] > claims["iat"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {data['access_token']}"})
    assert _data(me)["email"] == "siti@example.com"


def test_a_wrong_password_is_refused_with_the_envelope(client, db):
    make_user("student", email="budi@example.com")
    error = _refusal(client.post("/api/v1/auth/login", json={"email": "budi@example.com", "password": "nope"}), 422,
                     "VALIDATION_ERROR")
    assert error["message"] == "The email or password is not correct."
    assert error["details"] == {"reason": "SIGN_IN_REFUSED"}


def test_a_missing_field_is_a_validation_error_naming_the_field(client, db):
    error = _refusal(client.post("/api/v1/auth/login", json={"email": "a@example.com"}), 422, "VALIDATION_ERROR")
    assert "password" in error["details"]


def test_a_form_post_to_a_json_operation_is_refused_not_a_500(client, db):
    error = _refusal(client.post("/api/v1/auth/login", data={"email": "a@example.com", "password": "x"}), 422)
    assert "JSON" in error["message"]


def test_the_session_cookie_alone_gets_401(client, db):
    user = make_user("staff")
    with client.session_transaction() as session:
        session["_user_id"] = cookie_id_for(user)
        session["_fresh"] = True
    assert client.get("/dashboard").status_code == 200  # the cookie signs the pages in
    _refusal(client.get("/api/v1/auth/me"), 401, "UNAUTHENTICATED")
    _refusal(client.get("/api/v1/classes"), 401, "UNAUTHENTICATED")


def test_the_api_needs_no_csrf_token_while_the_pages_do(make_app, db):
    protected = make_app(WTF_CSRF_ENABLED=True).test_client()
    user = make_user("student")
    signed_in = protected.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    assert signed_in.status_code == 200
    assert protected.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 400


def test_a_token_that_is_not_ours_gets_401(client, db):
    _refusal(client.get("/api/v1/auth/me", headers={"Authorization": "Bearer not.a.token"}), 401)


def test_an_expired_token_gets_401(client, db):
    from flask_jwt_extended import create_access_token

    user = make_user("student")
    with client.application.test_request_context():
        token = create_access_token(identity=str(user.id), expires_delta=timedelta(seconds=-5),
                                    additional_claims={"pwd": user.password_fingerprint})
    _refusal(client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}), 401, "TOKEN_EXPIRED")


def test_refresh_rotates_and_the_old_refresh_token_stops_working(client, db, bearer):
    user = make_user("student")
    old_refresh = bearer(user, "refresh_token")
    fresh = _data(client.post("/api/v1/auth/refresh", headers=old_refresh))
    assert _data(client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {fresh['access_token']}"}))
    _refusal(client.post("/api/v1/auth/refresh", headers=old_refresh), 401, "TOKEN_REVOKED")
    assert _data(client.post("/api/v1/auth/refresh",
                             headers={"Authorization": f"Bearer {fresh['refresh_token']}"}))["access_token"]


def test_one_refresh_token_sent_twice_at_once_rotates_once(app, db, bearer):
    old_refresh = bearer(make_user("student"), "refresh_token")
    barrier, statuses = threading.Barrier(5), []

    def worker():
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post("/api/v1/auth/refresh", headers=old_refresh).status_code)

    threads = [threading.Thread(target=worker) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200, 401, 401, 401, 401]


def test_an_access_token_cannot_refresh_and_a_refresh_token_cannot_call(client, db, bearer):
    user = make_user("student")
    _refusal(client.post("/api/v1/auth/refresh", headers=bearer(user)), 401)
    _refusal(client.get("/api/v1/auth/me", headers=bearer(user, "refresh_token")), 401)


def test_logout_revokes_the_access_and_refresh_tokens(client, db, bearer):
    user = make_user("student")
    access, refresh = bearer(user), bearer(user, "refresh_token")
    response = client.post("/api/v1/auth/logout",
                           headers={**access, "X-Refresh-Token": refresh["Authorization"][7:]})
    assert _data(response)["done"] is True
    _refusal(client.get("/api/v1/auth/me", headers=access), 401, "TOKEN_REVOKED")
    _refusal(client.post("/api/v1/auth/refresh", headers=refresh), 401, "TOKEN_REVOKED")


def test_with_redis_the_blocklist_outlives_the_app(make_app, db, redis_url, redis_db):
    first = make_app(REDIS_URL=redis_url)
    with first.app_context():
        user = make_user("student")
        from babyowl.blueprints.api.core import issue_tokens

        with first.test_request_context():
            token = issue_tokens(user)["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert first.test_client().post("/api/v1/auth/logout", headers=headers).status_code == 200
    keys = redis_db.keys("babyowl:jwt:revoked:*")
    assert len(keys) == 1 and 0 < redis_db.ttl(keys[0]) <= 24 * 3600
    restarted = make_app(REDIS_URL=redis_url)  # a new process: nothing kept in memory
    _refusal(restarted.test_client().get("/api/v1/auth/me", headers=headers), 401, "TOKEN_REVOKED")


def test_a_blocklist_that_cannot_be_reached_refuses_tokens(make_app, db):
    unreachable = make_app(REDIS_URL="redis://127.0.0.1:1/0", REDIS_TIMEOUT=0.2)
    from babyowl.blueprints.api.core import issue_tokens

    with unreachable.app_context():
        user = make_user("student")
        with unreachable.test_request_context():
            token = issue_tokens(user)["access_token"]
    _refusal(unreachable.test_client().get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}), 401)


def test_changing_the_password_ends_every_token_of_the_person(client, db, bearer):
    user = make_user("student")
    other_device = bearer(user)
    response = client.put("/api/v1/auth/change-password", headers=bearer(user),
                          json={"current_password": PASSWORD, "new_password": "Baru#2026x"})
    fresh = _data(response)
    _refusal(client.get("/api/v1/auth/me", headers=other_device), 401, "TOKEN_REVOKED")
    assert _data(client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {fresh['access_token']}"}))


def test_a_wrong_current_password_changes_nothing(client, db, bearer):
    user = make_user("student")
    headers = bearer(user)
    _refusal(client.put("/api/v1/auth/change-password", headers=headers,
                        json={"current_password": "wrong", "new_password": "Baru#2026x"}), 422)
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200


def test_suspending_a_person_ends_their_tokens(client, db, bearer):
    from babyowl.services import users

    staff, student = make_user("staff"), make_user("student")
    headers = bearer(student)
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    users.set_status(staff, student.id, "suspended")
    _refusal(client.get("/api/v1/auth/me", headers=headers), 401, "TOKEN_REVOKED")
    _refusal(client.post("/api/v1/auth/login", json={"email": student.email, "password": PASSWORD}), 422)


def test_register_forgot_and_reset_password(client, db, app):
    response = client.post("/api/v1/auth/register",
                           json={"email": "rina@example.com", "full_name": "Rina", "password": "Rahasia#2026"})
    assert response.status_code == 201 and _data(response)["user"]["role"] == "student"
    _refusal(client.post("/api/v1/auth/register",
                         json={"email": "rina@example.com", "full_name": "Rina", "password": "Rahasia#2026"}), 422)
    _refusal(client.post("/api/v1/auth/register",
                         json={"email": "weak@example.com", "full_name": "W", "password": "short"}), 422)
    assert client.post("/api/v1/auth/forgot-password", json={"email": "nobody@example.com"}).status_code == 202
    from babyowl.services import tokens

    user = db.session.scalar(select(User).where(User.email == "rina@example.com"))
    token = tokens.make_token(tokens.RESET_PASSWORD, user)
    reset = client.post("/api/v1/auth/reset-password", json={"token": token, "new_password": "Lain#20261x"})
    assert _data(reset)["user"]["email"] == "rina@example.com"
    _refusal(client.post("/api/v1/auth/reset-password", json={"token": token, "new_password": "Lain#20262x"}), 400)
    assert client.post("/api/v1/auth/login",
                       json={"email": "rina@example.com", "password": "Lain#20261x"}).status_code == 200


def test_auth_is_limited_to_ten_a_minute_with_retry_after(make_app, db):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://")
    client = limited.test_client()
    answers = [client.post("/api/v1/auth/login", json={"email": "x@example.com", "password": "y"})
               for _ in range(11)]
    assert [a.status_code for a in answers[:10]] == [422] * 10
    _refusal(answers[10], 429, "RATE_LIMITED")
    assert int(answers[10].headers["Retry-After"]) > 0


def test_other_calls_are_limited_per_person(make_app, db):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", RATELIMIT_APPLICATION="3 per minute")
    from babyowl.blueprints.api.core import issue_tokens

    with limited.app_context():
        one, two = make_user("student"), make_user("student")
        with limited.test_request_context():
            first = {"Authorization": f"Bearer {issue_tokens(one)['access_token']}"}
            second = {"Authorization": f"Bearer {issue_tokens(two)['access_token']}"}
    client = limited.test_client()
    assert [client.get("/api/v1/auth/me", headers=first).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert client.get("/api/v1/auth/me", headers=second).status_code == 200  # another person, same address


# --- Envelope for everything under /api ---------------------------------------------------------------------------

def test_unknown_urls_and_wrong_methods_answer_the_envelope(client, db):
    _refusal(client.get("/api/v1/no-such-thing"), 404, "NOT_FOUND")
    _refusal(client.get("/api/v2/classes"), 404, "NOT_FOUND")
    wrong = client.delete("/api/v1/auth/login")
    _refusal(wrong, 405, "METHOD_NOT_ALLOWED")
    assert "POST" in wrong.headers["Allow"]
    page = client.get("/no-such-page")  # the pages keep their HTML
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_messages_follow_accept_language(client, db):
    make_user("student", email="ayu@example.com")
    error = _refusal(client.post("/api/v1/auth/login", json={"email": "ayu@example.com", "password": "x"},
                                 headers={"Accept-Language": "id"}), 422)
    assert error["message"] != "The email or password is not correct."
    assert _refusal(client.get("/api/v1/nope", headers={"Accept-Language": "id"}), 404)["message"] != \
        _refusal(client.get("/api/v1/nope"), 404)["message"]


def test_the_openapi_document_and_its_docs_page(client, db):
    document = client.get("/api/v1/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert {"400", "401", "403", "404", "409", "422", "429"} <= set(operation["responses"]), (path, method)
    assert document["paths"]["/api/v1/auth/login"]["post"]["security"] == []
    assert document["paths"]["/api/v1/classes"]["get"]["security"] == [{"bearerAuth": []}]
    page = client.get("/api/v1/docs")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "/static/vendor/swagger-ui" in html and "//" not in html.split("src=")[1][:3]
    assert "cdn" not in html.lower()


def test_cors_is_off_unless_origins_are_listed(client, db, make_app):
    origin = {"Origin": "https://app.example.com"}
    assert "Access-Control-Allow-Origin" not in client.get("/api/v1/catalog/courses", headers=origin).headers
    allowed = make_app(API_CORS_ORIGINS="https://app.example.com").test_client()
    response = allowed.get("/api/v1/catalog/courses", headers=origin)
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    other = allowed.get("/api/v1/catalog/courses", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers


# --- Catalog -------------------------------------------------------------------------------------------------------

def test_the_catalog_pages_with_a_cursor(client, db):
    for title in ("Alpha", "Beta", "Gamma"):
        make_course(title=title)
    make_course(title="Draft", status="draft")
    first = client.get("/api/v1/catalog/courses?limit=2")
    body = first.get_json()
    assert [c["title"] for c in body["data"]] == ["Alpha", "Beta"] and body["meta"]["has_more"] is True
    second = client.get(f"/api/v1/catalog/courses?limit=2&cursor={body['meta']['next_cursor']}").get_json()
    assert [c["title"] for c in second["data"]] == ["Gamma"] and second["meta"]["has_more"] is False
    _refusal(client.get("/api/v1/catalog/courses?limit=101"), 422, "VALIDATION_ERROR")
    _refusal(client.get("/api/v1/catalog/courses?cursor=%%%"), 422)


def test_a_catalog_course_and_one_not_in_it(client, db):
    course = make_course(title="Python", lessons=2)
    data = _data(client.get(f"/api/v1/catalog/courses/{course.slug}"))
    assert data["lesson_count"] == 2 and len(data["sections"][0]["lessons"]) == 2
    draft = make_course(status="draft")
    _refusal(client.get(f"/api/v1/catalog/courses/{draft.slug}"), 404, "NOT_FOUND")


# --- Classes -------------------------------------------------------------------------------------------------------

def test_who_sees_which_classes(client, db, teaching, bearer, api_as):
    other = make_class(instructor=make_user("instructor"))
    _, staff = api_as("staff")
    names = {c["name"] for c in _data(client.get("/api/v1/classes", headers=staff))}
    assert {teaching["class"].name, other.name} <= names
    mine = _data(client.get("/api/v1/classes", headers=bearer(teaching["instructor"])))
    assert [c["name"] for c in mine] == [teaching["class"].name]
    student = db.session.get(User, teaching["enrollments"][0].student_id)
    assert [c["id"] for c in _data(client.get("/api/v1/classes", headers=bearer(student)))] == \
        [str(teaching["class"].id)]
    _refusal(client.get(f"/api/v1/classes/{other.id}", headers=bearer(student)), 404)
    _refusal(client.get(f"/api/v1/classes/{uuid.uuid4()}", headers=staff), 404)
    _refusal(client.get("/api/v1/classes?status=bogus", headers=staff), 422)


def test_the_class_list_pages_with_a_cursor(client, db, api_as):
    for _ in range(3):
        make_class()
    _, staff = api_as("staff")
    first = client.get("/api/v1/classes?limit=2", headers=staff).get_json()
    assert len(first["data"]) == 2 and first["meta"]["has_more"] and "total" not in first["meta"]
    second = client.get(f"/api/v1/classes?limit=2&cursor={first['meta']['next_cursor']}", headers=staff).get_json()
    assert len(second["data"]) == 1 and not second["meta"]["has_more"]
    assert {c["id"] for c in first["data"]}.isdisjoint({c["id"] for c in second["data"]})


def test_staff_create_change_and_open_a_class(client, db, api_as):
    _, staff = api_as("staff")
    course, instructor = make_course(), make_user("instructor")
    body = {"name": "Python Sabtu", "course_id": str(course.id), "instructor_id": str(instructor.id),
            "type": "group", "total_meetings": 12, "max_capacity": 15, "days": ["Saturday"],
            "start_time": "09:00:00", "end_time": "11:00:00", "enrollment_deadline": "2027-01-01",
            "start_date": "2027-01-02"}
    created = client.post("/api/v1/classes", headers=staff, json=body)
    school_class = _data(created)
    assert created.status_code == 201 and school_class["status"] == "draft" and school_class["total_meetings"] == 12
    url = f"/api/v1/classes/{school_class['id']}"
    changed = _data(client.put(url, headers=staff, json={**body, "max_capacity": 20}))
    assert changed["max_capacity"] == 20
    _refusal(client.put(url, headers=staff, json={**body, "start_date": "2026-12-01"}), 422)  # deadline after start
    opened = _data(client.put(f"{url}/status", headers=staff, json={"status": "enrollment_open"}))
    assert opened["status"] == "enrollment_open"
    _refusal(client.put(f"{url}/status", headers=staff, json={"status": "draft"}), 409)
    _refusal(client.post("/api/v1/classes", headers=api_as("instructor")[1], json=body), 403)
    _refusal(client.post("/api/v1/classes", headers=staff, json={**body, "course_id": str(uuid.uuid4())}), 422)


def test_staff_enroll_and_the_rules_of_the_class_refuse(client, db, api_as, bearer):
    _, staff = api_as("staff")
    school_class = make_class(status="enrollment_open", max_capacity=1)
    student = make_user("student")
    response = client.post(f"/api/v1/classes/{school_class.id}/enrollments", headers=staff,
                           json={"student_id": str(student.id)})
    assert response.status_code == 201 and _data(response)["credits_remaining"] == school_class.total_meetings
    _refusal(client.post(f"/api/v1/classes/{school_class.id}/enrollments", headers=staff,
                         json={"student_id": str(make_user('student').id)}), 409, "CONFLICT")  # full
    _refusal(client.post(f"/api/v1/classes/{school_class.id}/enrollments", headers=bearer(make_user("instructor")),
                         json={"student_id": str(student.id)}), 403, "FORBIDDEN")
    _refusal(client.post(f"/api/v1/classes/{school_class.id}/enrollments", headers=staff, json={}), 422)


def test_staff_enroll_with_a_desk_payment_verifies_the_invoice(client, db, api_as):
    _, staff = api_as("staff")
    priced = make_class(status="enrollment_open", max_capacity=3, package_price=Decimal("1750000"))
    response = client.post(f"/api/v1/classes/{priced.id}/enrollments", headers=staff,
                           json={"student_id": str(make_user("student").id), "paid_at_desk": "Rp 1.750.000"})
    assert response.status_code == 201 and _data(response)["payment_status"] == "verified"
    unpaid = client.post(f"/api/v1/classes/{priced.id}/enrollments", headers=staff,
                         json={"student_id": str(make_user("student").id)})
    assert unpaid.status_code == 201 and _data(unpaid)["payment_status"] == "pending"
    _refusal(client.post(f"/api/v1/classes/{priced.id}/enrollments", headers=staff,
                         json={"student_id": str(make_user("student").id), "paid_at_desk": "sejuta"}), 422)
    assert db.session.scalar(select(func.count(ClassEnrollment.id)).where(ClassEnrollment.class_id == priced.id)) == 2


def test_unlocking_follows_the_meetings_held(client, db, teaching, bearer):
    instructor = bearer(teaching["instructor"])
    class_id = teaching["class"].id
    _refusal(client.post(f"/api/v1/classes/{class_id}/unlock-lesson", headers=instructor), 409)
    client.post(f"/api/v1/classes/{class_id}/attendance", headers=instructor, json={
        "meeting_number": 1, "marks": [{"enrollment_id": str(teaching["enrollments"][0].id), "status": "present"}]})
    response = client.post(f"/api/v1/classes/{class_id}/unlock-lesson", headers=instructor)
    assert response.status_code == 201 and _data(response)["title"]
    student = db.session.get(User, teaching["enrollments"][0].student_id)
    _refusal(client.post(f"/api/v1/classes/{class_id}/unlock-lesson", headers=bearer(student)), 403)


# --- Attendance ----------------------------------------------------------------------------------------------------

def _take(client, headers, teaching, status="present", key=None, meeting=1):
    marks = [{"enrollment_id": str(e.id), "status": status} for e in teaching["enrollments"]]
    extra = {"Idempotency-Key": str(key)} if key else {}
    return client.post(f"/api/v1/classes/{teaching['class'].id}/attendance", headers={**headers, **extra},
                       json={"meeting_number": meeting, "marks": marks})


def test_taking_attendance_marks_and_uses_credits(client, db, teaching, bearer):
    data = _data(_take(client, bearer(teaching["instructor"]), teaching, "late"))
    assert data["changed"] == 2 and {m["status"] for m in data["marks"]} == {"late"}
    db.session.expire_all()
    assert [db.session.get(ClassEnrollment, e.id).credits_used for e in teaching["enrollments"]] == [1, 1]


def test_a_retried_request_with_its_key_changes_nothing(client, db, teaching, bearer):
    headers, key = bearer(teaching["instructor"]), uuid.uuid4()
    assert _data(_take(client, headers, teaching, key=key))["changed"] == 2
    again = _data(_take(client, headers, teaching, "absent", key=key))
    assert again["changed"] == 0 and again["replayed"] is True and {m["status"] for m in again["marks"]} == {"present"}


def test_who_may_take_attendance(client, db, teaching, bearer, api_as):
    student = db.session.get(User, teaching["enrollments"][0].student_id)
    _refusal(_take(client, bearer(student), teaching), 403, "FORBIDDEN")
    _refusal(_take(client, api_as("instructor")[1], teaching), 404, "NOT_FOUND")
    assert _take(client, api_as("staff")[1], teaching).status_code == 200


def test_attendance_refusals(client, db, teaching, bearer):
    headers = bearer(teaching["instructor"])
    _refusal(_take(client, headers, teaching, "asleep"), 422, "VALIDATION_ERROR")
    _refusal(_take(client, headers, teaching, meeting=11), 422)  # 10 meetings in the package
    _refusal(client.post(f"/api/v1/classes/{teaching['class'].id}/attendance", headers=headers,
                         json={"meeting_number": 1, "marks": [{"enrollment_id": str(uuid.uuid4()),
                                                               "status": "present"}]}), 422)
    finished = make_class(instructor=teaching["instructor"], status="completed")
    _refusal(client.post(f"/api/v1/classes/{finished.id}/attendance", headers=headers,
                         json={"meeting_number": 1, "marks": [{"enrollment_id": str(uuid.uuid4()),
                                                               "status": "present"}]}), 409, "CONFLICT")
    _refusal(_take(client, {**headers, "Idempotency-Key": "not-a-uuid"}, teaching), 422)
    assert db.session.scalar(select(func.count()).select_from(ClassAttendance)) == 0


def test_ten_identical_requests_at_once_make_one_mark_and_use_one_credit(db, teaching, bearer, at_once):
    headers, key = bearer(teaching["instructor"]), uuid.uuid4()
    enrollment = teaching["enrollments"][0]
    body = {"meeting_number": 1, "marks": [{"enrollment_id": str(enrollment.id), "status": "present"}]}
    url = f"/api/v1/classes/{teaching['class'].id}/attendance"

    def take(browser):
        return browser.post(url, json=body, headers={**headers, "Idempotency-Key": str(key)})

    assert at_once(10, take) == [200] * 10
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(ClassAttendance)) == 1
    assert db.session.scalar(select(func.count()).select_from(AttendanceChange)) == 1
    assert db.session.get(ClassEnrollment, enrollment.id).credits_used == 1


def test_attendance_history_pages_with_a_cursor(client, db, teaching, bearer):
    headers = bearer(teaching["instructor"])
    _take(client, headers, teaching, meeting=1)
    _take(client, headers, teaching, "absent", meeting=2)
    url = f"/api/v1/classes/{teaching['class'].id}/attendance"
    first = client.get(f"{url}?limit=3", headers=headers).get_json()
    assert [m["meeting_number"] for m in first["data"]] == [1, 1, 2] and first["meta"]["has_more"]
    rest = client.get(f"{url}?limit=3&cursor={first['meta']['next_cursor']}", headers=headers).get_json()
    assert [m["meeting_number"] for m in rest["data"]] == [2] and rest["meta"]["has_more"] is False
    only_two = _data(client.get(f"{url}?meeting_number=2", headers=headers))
    assert {m["status"] for m in only_two} == {"absent"}
    student = db.session.get(User, teaching["enrollments"][0].student_id)
    _refusal(client.get(url, headers=bearer(student)), 403)


def test_editing_a_meeting_moves_the_credit_and_keeps_the_reason(client, db, teaching, bearer):
    headers = bearer(teaching["instructor"])
    _take(client, headers, teaching, meeting=1)
    enrollment = teaching["enrollments"][0]
    url = f"/api/v1/classes/{teaching['class'].id}/attendance/1"
    data = _data(client.put(url, headers=headers, json={"enrollment_id": str(enrollment.id), "status": "absent",
                                                        "reason": "Sakit, surat dokter"}))
    assert data["status"] == "absent" and data["credit_deducted"] is False
    db.session.expire_all()
    assert db.session.get(ClassEnrollment, enrollment.id).credits_used == 0
    _refusal(client.put(f"/api/v1/classes/{teaching['class'].id}/attendance/5", headers=headers,
                        json={"enrollment_id": str(enrollment.id), "status": "absent"}), 422)
    other = make_enrollment(make_class(instructor=teaching["instructor"]))
    _refusal(client.put(url, headers=headers, json={"enrollment_id": str(other.id), "status": "absent"}), 404)


def test_the_attendance_report_as_csv_and_pdf(client, db, teaching, bearer):
    headers = bearer(teaching["instructor"])
    _take(client, headers, teaching)
    url = f"/api/v1/classes/{teaching['class'].id}/attendance/report"
    csv = client.get(url, headers=headers)
    assert csv.status_code == 200 and csv.mimetype == "text/csv" and csv.get_data(as_text=True).count("\n") >= 3
    pdf = client.get(f"{url}?format=pdf", headers=headers)
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


# --- Credits -------------------------------------------------------------------------------------------------------

def test_credits_balance_history_and_adjust(client, db, teaching, bearer, api_as):
    instructor = bearer(teaching["instructor"])
    _take(client, instructor, teaching)
    enrollment = teaching["enrollments"][0]
    student = bearer(db.session.get(User, enrollment.student_id))
    balance = _data(client.get(f"/api/v1/enrollments/{enrollment.id}/credits", headers=student))
    assert (balance["credits_used"], balance["credits_remaining"], balance["adds_up"]) == (1, 9, True)
    key = str(uuid.uuid4())
    adjust = {"adjustment": 1, "reason": "makeup_class"}
    url = f"/api/v1/enrollments/{enrollment.id}/credits/adjust"
    first = client.post(url, headers={**instructor, "Idempotency-Key": key}, json=adjust)
    again = client.post(url, headers={**instructor, "Idempotency-Key": key}, json=adjust)
    assert first.status_code == 201 and _data(first)["id"] == _data(again)["id"]
    history = _data(client.get(f"/api/v1/enrollments/{enrollment.id}/credits/history", headers=student))
    assert [entry["used_after"] for entry in history] == [1, 0]
    _refusal(client.post(url, headers=student, json=adjust), 403)
    _refusal(client.post(url, headers=instructor, json={"adjustment": -20, "reason": "error_correction"}), 409)
    _refusal(client.post(url, headers=instructor, json={"adjustment": 1, "reason": "whatever"}), 422)
    _refusal(client.get(f"/api/v1/enrollments/{enrollment.id}/credits", headers=api_as("student")[1]), 404)


def test_the_api_and_the_pages_give_the_same_numbers(client, db, teaching, bearer, login_as):
    instructor = bearer(teaching["instructor"])
    _take(client, instructor, teaching, meeting=1)
    _take(client, instructor, teaching, "absent", meeting=2)
    enrollment = teaching["enrollments"][0]
    client.post(f"/api/v1/enrollments/{enrollment.id}/credits/adjust", headers=instructor,
                json={"adjustment": -2, "reason": "other", "detail": "Kelas tambahan"})
    api = _data(client.get(f"/api/v1/enrollments/{enrollment.id}/credits", headers=instructor))
    rows = {r["id"]: r for r in
            _data(client.get(f"/api/v1/classes/{teaching['class'].id}/enrollments", headers=instructor))}
    marks = _data(client.get(f"/api/v1/classes/{teaching['class'].id}/attendance", headers=instructor))
    progress = _data(client.get(f"/api/v1/classes/{teaching['class'].id}/progress", headers=instructor))
    login_as("staff")
    page = client.get(f"/enrollments/{enrollment.id}/credits").get_data(as_text=True)
    shown_remaining = re.search(r'id="credits-remaining">(-?\d+)', page).group(1)
    assert int(shown_remaining) == api["credits_remaining"] == rows[str(enrollment.id)]["credits_remaining"] == 7
    rate = re.search(r'id="attendance-rate">([^<]*)<', page).group(1)
    assert rate.startswith("50") and rows[str(enrollment.id)]["attendance_rate"] in ("50.00", "50.0", "50")
    sheet = client.get(f"/classes/{teaching['class'].id}/attendance?meeting=2").get_data(as_text=True)
    assert sheet.count('value="absent" checked') == sum(m["status"] == "absent" for m in marks) == 2
    progress_page = client.get(f"/classes/{teaching['class'].id}/progress").get_data(as_text=True)
    cells = re.findall(r"<td>(\d+)</td>\s*<td>(\d+)</td>", progress_page)
    assert sorted((int(a), int(b)) for a, b in cells) == sorted(
        (row["lessons_completed"], row["exercises_completed"]) for row in progress["students"])
    assert len(progress["students"]) == 2


# --- Progress ------------------------------------------------------------------------------------------------------

def test_a_student_reads_their_progress(client, db, teaching, bearer):
    student = db.session.get(User, teaching["enrollments"][0].student_id)
    data = _data(client.get("/api/v1/me/progress", headers=bearer(student)))
    assert data[0]["class_id"] == str(teaching["class"].id) and data[0]["lessons_completed"] == 0
    _refusal(client.get("/api/v1/me/progress", headers=bearer(teaching["instructor"])), 403)
    _refusal(client.get(f"/api/v1/classes/{teaching['class'].id}/progress", headers=bearer(student)), 403)



def test_list_operations_run_the_same_statements_whatever_the_rows(client, db, teaching, bearer, api_as,
                                                                    list_statements):
    instructor = bearer(teaching["instructor"])
    _, staff = api_as("staff")
    _take(client, instructor, teaching, meeting=1)
    lists = [(f"/api/v1/classes/{teaching['class'].id}/attendance?limit=100", instructor),
             ("/api/v1/classes?limit=100", staff), ("/api/v1/catalog/courses?limit=100", {})]

    few = list_statements(lists)
    for _ in range(6):
        enrollment = make_enrollment(teaching["class"])
        teaching["enrollments"].append(enrollment)
        make_class(course=make_course())
    _take(client, instructor, teaching, meeting=2)
    assert list_statements(lists) == few


# --- People and notifications --------------------------------------------------------------------------------------

def test_staff_list_create_and_suspend_people(client, db, api_as, bearer):
    staff_user, staff = api_as("staff")
    for index in range(3):
        make_user("student", full_name=f"Zaki {index}")
    first = client.get("/api/v1/users?q=zaki&limit=2", headers=staff).get_json()
    assert [u["full_name"] for u in first["data"]] == ["Zaki 0", "Zaki 1"] and first["meta"]["total"] == 3
    rest = client.get(f"/api/v1/users?q=zaki&limit=2&cursor={first['meta']['next_cursor']}", headers=staff)
    assert [u["full_name"] for u in _data(rest)] == ["Zaki 2"]
    created = client.post("/api/v1/users", headers=staff,
                          json={"email": "baru@example.com", "full_name": "Murid Baru", "role": "student"})
    assert created.status_code == 201 and _data(created)["role"] == "student"
    _refusal(client.post("/api/v1/users", headers=staff,
                         json={"email": "guru@example.com", "full_name": "Guru", "role": "instructor"}), 422)
    student = make_user("student")
    student_token = bearer(student)
    suspended = _data(client.put(f"/api/v1/users/{student.id}/status", headers=staff, json={"status": "suspended"}))
    assert suspended["status"] == "suspended"
    _refusal(client.get("/api/v1/auth/me", headers=student_token), 401)
    _refusal(client.put(f"/api/v1/users/{staff_user.id}/status", headers=staff, json={"status": "suspended"}), 409)
    _refusal(client.get("/api/v1/users", headers=api_as("instructor")[1]), 403)


def test_my_notifications_read_one_and_all(client, db, bearer):
    from babyowl.models import Notification

    user, other = make_user("student"), make_user("student")
    rows = [Notification(user_id=user.id, type="announcement", title=f"Info {i}", message="Teks") for i in range(3)]
    mine_elsewhere = Notification(user_id=other.id, type="announcement", title="Bukan punyamu", message="Teks")
    db.session.add_all([*rows, mine_elsewhere])
    db.session.commit()
    headers = bearer(user)
    assert _data(client.get("/api/v1/notifications/unread-count", headers=headers))["unread"] == 3
    listed = client.get("/api/v1/notifications?limit=2", headers=headers).get_json()
    assert len(listed["data"]) == 2 and listed["meta"]["has_more"]
    assert _data(client.post(f"/api/v1/notifications/{rows[0].id}/read", headers=headers))["read"] is True
    _refusal(client.post(f"/api/v1/notifications/{mine_elsewhere.id}/read", headers=headers), 404)
    assert _data(client.post("/api/v1/notifications/read-all", headers=headers))["unread"] == 0


def test_announcements_written_sent_read_and_cancelled(client, db, teaching, bearer, api_as):
    instructor = bearer(teaching["instructor"])
    student = db.session.get(User, teaching["enrollments"][0].student_id)
    url = f"/api/v1/classes/{teaching['class'].id}/announcements"
    sent = client.post(url, headers=instructor, json={"title": "Libur", "content": "Besok **libur**."})
    announcement = _data(sent)
    assert sent.status_code == 201 and announcement["sent_at"]
    assert "<strong>libur</strong>" in announcement["content_html"]
    from datetime import datetime, timezone

    next_week = (datetime.now(timezone.utc) + timedelta(days=7)).isoformat()
    later = _data(client.post(url, headers=instructor, json={"title": "Ujian", "content": "Minggu depan",
                                                             "send_at": next_week}))
    assert [a["title"] for a in _data(client.get(url, headers=bearer(student)))] == ["Libur"]  # not the scheduled
    opened = _data(client.get(f"/api/v1/announcements/{announcement['id']}", headers=bearer(student)))
    assert opened["title"] == "Libur"
    rows = {a["title"]: a for a in _data(client.get(url, headers=instructor))}
    assert rows["Libur"]["read_count"] == 1 and rows["Libur"]["recipient_count"] == 2
    _refusal(client.get(f"/api/v1/announcements/{later['id']}", headers=bearer(student)), 404)
    cancelled = _data(client.post(f"/api/v1/announcements/{later['id']}/cancel", headers=instructor))
    assert cancelled["cancelled_at"]
    _refusal(client.post(f"/api/v1/announcements/{announcement['id']}/cancel", headers=instructor), 409)
    _refusal(client.post(url, headers=bearer(student), json={"title": "X", "content": "Y"}), 403)
    _refusal(client.get(url, headers=api_as("student")[1]), 404)
    _refusal(client.post(url, headers=instructor, json={"title": "X", "content": "Y",
                                                        "send_at": "2000-01-01T00:00:00Z"}), 422)
