"""The JSON API half of the route-access table: every API operation, as anonymous and as every role, with a bearer.

Allowed roles are never refused (401/403/404); anyone else is: anonymous with 401, a signed-in role with 403
(wrong role) or 404 (a thing they may not know exists). An operation missing from API_ACCESS fails
`test_every_api_route_is_in_the_table`.
"""
from __future__ import annotations

import base64
import io
import uuid
from dataclasses import dataclass, field
from typing import Callable

import pytest

from babyowl.authz import ALL_ROLES, STAFF_ROLES, TEACHING_ROLES, UNLOCKERS
from tests.factories import make_class, make_course, make_enrollment, make_user

ANONYMOUS = "anonymous"
# A 1×1 PNG: a profile picture for the account operations.
TINY_PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
                            "AAAABJRU5ErkJggg==")
EVERYONE = (ANONYMOUS, *ALL_ROLES)
SIGNED_IN = ALL_ROLES
AUTHORS = ("instructor", "super_admin")


@dataclass(frozen=True)
class Op:
    allowed: tuple[str, ...]
    url: Callable[[dict], str] | str
    method: str = "GET"
    json: dict | None = field(default=None)
    token: str = "access_token"


def _cls(path=""):
    return lambda c: f"/api/v1/classes/{c['class'].id}{path}"


def _credits(path=""):
    return lambda c: f"/api/v1/enrollments/{c['enrollment'].id}/credits{path}"


API_ACCESS: dict[str, Op] = {
    "api.openapi": Op(EVERYONE, "/api/v1/openapi.json"),
    "api.docs": Op(EVERYONE, "/api/v1/docs"),
    "api.login": Op(EVERYONE, "/api/v1/auth/login", "POST", {}),
    "api.register": Op(EVERYONE, "/api/v1/auth/register", "POST", {}),
    "api.forgot_password": Op(EVERYONE, "/api/v1/auth/forgot-password", "POST", {"email": "x@example.com"}),
    "api.reset_password": Op(EVERYONE, "/api/v1/auth/reset-password", "POST", {}),
    "api.refresh": Op(SIGNED_IN, "/api/v1/auth/refresh", "POST", token="refresh_token"),
    "api.logout": Op(SIGNED_IN, "/api/v1/auth/logout", "POST"),
    "api.me": Op(SIGNED_IN, "/api/v1/auth/me"),
    "api.change_password": Op(SIGNED_IN, "/api/v1/auth/change-password", "PUT", {}),
    "api.catalog_courses": Op(EVERYONE, "/api/v1/catalog/courses"),
    "api.catalog_course": Op(EVERYONE, lambda c: f"/api/v1/catalog/courses/{c['published'].slug}"),
    # Classes: staff every class, its instructor, its students; anyone else 404.
    "api.list_classes": Op(SIGNED_IN, "/api/v1/classes"),
    "api.get_class": Op(SIGNED_IN, _cls()),
    "api.create_class": Op(STAFF_ROLES, "/api/v1/classes", "POST", {}),
    "api.update_class": Op(STAFF_ROLES, _cls(), "PUT", {}),
    "api.change_class_status": Op(STAFF_ROLES, _cls("/status"), "PUT", {"status": "completed"}),
    "api.class_enrollments": Op(TEACHING_ROLES, _cls("/enrollments")),
    "api.enroll": Op(STAFF_ROLES, _cls("/enrollments"), "POST", {}),
    "api.unlock_lesson": Op(UNLOCKERS, _cls("/unlock-lesson"), "POST"),
    # Attendance: the class's instructor and staff; its students 403.
    "api.take_attendance": Op(TEACHING_ROLES, _cls("/attendance"), "POST", {}),
    "api.attendance_history": Op(TEACHING_ROLES, _cls("/attendance")),
    "api.correct_mark": Op(TEACHING_ROLES, _cls("/attendance/1"), "PUT", {}),
    "api.attendance_report": Op(TEACHING_ROLES, _cls("/attendance/report")),
    # Credits: the student reads their own; the class's instructor and staff adjust.
    "api.credit_balance": Op(SIGNED_IN, _credits()),
    "api.credit_history": Op(SIGNED_IN, _credits("/history")),
    "api.adjust_credits": Op(TEACHING_ROLES, _credits("/adjust"), "POST", {}),
    "api.my_progress": Op(("student",), "/api/v1/me/progress"),
    "api.class_progress": Op(TEACHING_ROLES, _cls("/progress")),
    # Quizzes and hand-ins: the class's students; teachers 403 (they do not take quizzes); others 403/404.
    "api.get_quiz": Op(("student",), lambda c: f"/api/v1/classes/{c['class'].id}/exercises/{c['quiz'].id}/quiz"),
    "api.quiz_attempts": Op(("student",), lambda c: f"/api/v1/classes/{c['class'].id}/exercises/{c['quiz'].id}"
                                                    "/quiz/attempts"),
    "api.submit_quiz": Op(("student",), lambda c: f"/api/v1/classes/{c['class'].id}/exercises/{c['quiz'].id}"
                                                  "/quiz/attempts", "POST", {"answers": {"q1": ["a"]}}),
    "api.submit_assignment": Op(("student",), lambda c: f"/api/v1/classes/{c['class'].id}/exercises/"
                                                        f"{c['assignment'].id}/submissions", "POST", None),
    # Grading: the student's instructor (and super_admin); staff and students 403; other instructors 404.
    "api.grade_submission": Op(("instructor", "super_admin"), lambda c: f"/api/v1/submissions/{c['submission'].id}"
                                                                        "/grade", "POST", {}),
    # Coding: whoever may open the exercise (students of a class that unlocked it, teachers); submitting: students.
    "api.coding_exercise": Op(SIGNED_IN, lambda c: f"/api/v1/exercises/{c['coding'].id}/coding"),
    "api.coding_history": Op(SIGNED_IN, lambda c: f"/api/v1/exercises/{c['coding'].id}/coding/submissions"),
    "api.submit_code": Op(("student",), lambda c: f"/api/v1/exercises/{c['coding'].id}/coding/submit", "POST", {}),
    "api.coding_result": Op(SIGNED_IN, lambda c: f"/api/v1/coding/submissions/{c['coding_submission'].id}"),
    # A student's own work; a person's progress: their own, or anyone's for staff.
    "api.complete_exercise": Op(("student",), lambda c: f"/api/v1/classes/{c['class'].id}/exercises/"
                                                        f"{c['quiz'].id}/complete", "POST"),
    "api.report_exercise_progress": Op(("student",), lambda c: f"/api/v1/classes/{c['class'].id}/exercises/"
                                                               f"{c['quiz'].id}/progress", "POST", {}),
    "api.lesson_progress": Op(("student",), lambda c: f"/api/v1/classes/{c['class'].id}/lessons/"
                                                      f"{c['quiz'].lesson_id}/progress"),
    "api.user_progress": Op(SIGNED_IN, lambda c: f"/api/v1/users/{c['user_id']}/progress"),
    # Announcements: the class's instructor and staff write; its students read what was sent.
    "api.class_announcements": Op(SIGNED_IN, _cls("/announcements")),
    "api.create_announcement": Op(TEACHING_ROLES, _cls("/announcements"), "POST", {}),
    "api.open_announcement": Op(SIGNED_IN, lambda c: f"/api/v1/announcements/{c['announcement'].id}"),
    "api.cancel_announcement": Op(TEACHING_ROLES, lambda c: f"/api/v1/announcements/{c['announcement'].id}/cancel",
                                  "POST"),
    # People: staff; notifications: each person their own.
    "api.list_users": Op(STAFF_ROLES, "/api/v1/users"),
    "api.create_user": Op(STAFF_ROLES, "/api/v1/users", "POST", {}),
    "api.set_user_status": Op(STAFF_ROLES, lambda c: f"/api/v1/users/{c['other'].id}/status", "PUT",
                              {"status": "suspended"}),
    "api.list_notifications": Op(SIGNED_IN, "/api/v1/notifications"),
    "api.unread_notifications": Op(SIGNED_IN, "/api/v1/notifications/unread-count"),
    "api.read_notification": Op(SIGNED_IN, lambda c: f"/api/v1/notifications/{c['notification'].id}/read", "POST"),
    "api.read_all_notifications": Op(SIGNED_IN, "/api/v1/notifications/read-all", "POST"),
    # Authoring: the course's author (an instructor) and super_admin; other instructors 403 (own test).
    "api.authored_courses": Op(AUTHORS, "/api/v1/courses"),
    "api.create_course": Op(AUTHORS, "/api/v1/courses", "POST", {"title": "Kursus"}),
    "api.get_course": Op(AUTHORS, lambda c: f"/api/v1/courses/{c['draft'].id}"),
    "api.update_course": Op(AUTHORS, lambda c: f"/api/v1/courses/{c['draft'].id}", "PUT", {"title": "Baru"}),
    "api.change_course_status": Op(AUTHORS, lambda c: f"/api/v1/courses/{c['draft'].id}/status", "PUT",
                                   {"status": "published"}),
    "api.delete_course": Op(AUTHORS, lambda c: f"/api/v1/courses/{c['draft'].id}", "DELETE"),
    "api.add_section": Op(AUTHORS, lambda c: f"/api/v1/courses/{c['draft'].id}/sections", "POST", {"title": "Bab"}),
    "api.add_lesson": Op(AUTHORS, lambda c: f"/api/v1/sections/{c['draft'].sections[0].id}/lessons", "POST",
                         {"title": "Pelajaran"}),
    "api.lesson_exercises": Op(AUTHORS, lambda c: f"/api/v1/lessons/{c['draft_lesson'].id}/exercises"),
    "api.add_exercise": Op(AUTHORS, lambda c: f"/api/v1/lessons/{c['draft_lesson'].id}/exercises", "POST", {}),
    "api.update_exercise": Op(AUTHORS, lambda c: f"/api/v1/exercises/{c['draft_exercise'].id}", "PUT", {}),
    "api.delete_exercise": Op(AUTHORS, lambda c: f"/api/v1/exercises/{c['draft_exercise'].id}", "DELETE"),
}

# --- classes, announcements, account, privacy (a3) ---
API_ACCESS.update({
    # Withdrawing and continuing: staff, as the class page.
    "api.withdraw": Op(STAFF_ROLES, lambda c: f"/api/v1/enrollments/{c['enrollment'].id}/withdraw", "POST"),
    "api.continue_class": Op(STAFF_ROLES, _cls("/continue"), "POST", {}),
    "api.update_announcement": Op(TEACHING_ROLES, lambda c: f"/api/v1/announcements/{c['announcement'].id}", "PUT",
                                  {}),
    # A person's own account: everyone signed in.
    "api.my_profile": Op(SIGNED_IN, "/api/v1/me/profile"),
    "api.update_my_profile": Op(SIGNED_IN, "/api/v1/me/profile", "PATCH", {}),
    "api.my_avatar": Op(SIGNED_IN, "/api/v1/me/profile/avatar"),
    "api.set_my_avatar": Op(SIGNED_IN, "/api/v1/me/profile/avatar", "PUT"),
    "api.remove_my_avatar": Op(SIGNED_IN, "/api/v1/me/profile/avatar", "DELETE"),
    "api.my_devices": Op(SIGNED_IN, "/api/v1/me/devices"),
    "api.sign_out_device": Op(SIGNED_IN, lambda c: f"/api/v1/me/devices/{c['device_id']}", "DELETE"),
    "api.sign_out_other_devices": Op(SIGNED_IN, "/api/v1/me/devices/sign-out-others", "POST"),
    "api.my_data_export": Op(SIGNED_IN, "/api/v1/me/data-export"),
    "api.request_deletion": Op(SIGNED_IN, "/api/v1/me/deletion-request", "POST", {}),
    # Erasing an account for good: super_admin only.
    "api.erase_user": Op(("super_admin",), lambda c: f"/api/v1/users/{c['other'].id}/erase", "POST"),
})


def test_every_api_route_is_in_the_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")}
    assert sorted(endpoints - API_ACCESS.keys()) == [], "add these API routes to API_ACCESS"
    assert sorted(API_ACCESS.keys() - endpoints) == [], "these API routes no longer exist"


@pytest.fixture
def api_context(db):
    from babyowl.models import AssignmentSubmission, CodingSubmission, LessonUnlock
    from tests.grading.test_grader import TESTS, coding_exercise
    from tests.learning_data import ASSIGNMENT, QUIZ, exercise

    def build(user):
        instructor = user if user is not None and user.role == "instructor" else make_user("instructor")
        course = make_course(lessons=1)
        lesson = course.sections[0].lessons[0]
        school_class = make_class(course=course, instructor=instructor)
        student = user if user is not None and user.role == "student" else make_user("student")
        enrollment = make_enrollment(school_class, student)
        db.session.add(LessonUnlock(class_id=school_class.id, lesson_id=lesson.id))
        db.session.commit()
        assignment = exercise(lesson, "assignment", ASSIGNMENT)
        coding = coding_exercise(lesson, TESTS, order=5)
        submission = AssignmentSubmission(exercise_id=assignment.id, student_id=student.id, type="text",
                                          text_content="Jawaban", max_grade=50)
        coding_submission = CodingSubmission(user_id=student.id, exercise_id=coding.id, code="print(1)")
        db.session.add_all([submission, coding_submission])
        db.session.commit()
        from babyowl.models import Announcement, Notification
        from babyowl.models.base import utcnow

        owner = user or student
        notification = Notification(user_id=owner.id, type="announcement", title="Info", message="Teks")
        announcement = Announcement(class_id=school_class.id, instructor_id=instructor.id, title="Info",
                                    content="Teks", content_html="<p>Teks</p>", sent_at=utcnow())
        db.session.add_all([notification, announcement])
        db.session.commit()
        draft = make_course(author=instructor, status="draft", lessons=1)
        draft_lesson = draft.sections[0].lessons[0]
        # --- account (a3): the caller has a picture and a second signed-in device ---
        device_id = uuid.uuid4()
        if user is not None:
            from babyowl.models import UserSession
            from babyowl.services.avatars import store_avatar

            user.avatar = store_avatar(io.BytesIO(TINY_PNG))
            db.session.add(UserSession(id=device_id, user_id=user.id, user_agent="Phone"))
            db.session.commit()
        return {"device_id": device_id,
                "class": school_class, "enrollment": enrollment, "published": make_course(status="published"),
                "user_id": owner.id, "other": make_user("student"), "notification": notification,
                "announcement": announcement,
                "draft": draft, "draft_lesson": draft_lesson,
                "draft_exercise": draft_lesson.exercises[0],
                "quiz": exercise(lesson, "quiz", QUIZ), "assignment": assignment, "submission": submission,
                "coding": coding, "coding_submission": coding_submission}

    return build


@pytest.mark.parametrize("role", EVERYONE)
@pytest.mark.parametrize("endpoint", sorted(API_ACCESS))
def test_api_access(app, client, db, api_context, endpoint, role, monkeypatch):
    import babyowl.jobs.grading
    from babyowl.blueprints.api.core import issue_tokens

    monkeypatch.setattr(babyowl.jobs.grading, "queue_grading", lambda submission_id: None)  # no sandbox run here

    op = API_ACCESS[endpoint]
    user = make_user(role) if role != ANONYMOUS else None
    context = api_context(user)
    headers = {}
    if user is not None:
        with app.test_request_context():
            headers["Authorization"] = f"Bearer {issue_tokens(user)[op.token]}"
    url = op.url(context) if callable(op.url) else op.url
    response = client.open(url, method=op.method, headers=headers, json=op.json)
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    refused = response.status_code in (401, 403, 404)
    if role in op.allowed:
        assert not refused, f"{role} refused on {endpoint}: {response.status_code} {response.get_data(as_text=True)}"
    else:
        assert refused, f"{role} let through on {endpoint}: {response.status_code}"
        if role == ANONYMOUS:
            assert response.status_code == 401 and response.get_json()["error"]["code"] == "UNAUTHENTICATED"
