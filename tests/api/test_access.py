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
# --- payments, gamification (a1) ---
# An invoice of the context's student: theirs and staff's; the class's instructor does not see it (404).
OWNER_AND_STAFF = ("student", *STAFF_ROLES)
API_ACCESS.update({
    "api.open_classes": Op(EVERYONE, "/api/v1/open-classes"),
    "api.my_invoices": Op(SIGNED_IN, "/api/v1/invoices"),
    "api.choose_class": Op(("student",), "/api/v1/invoices", "POST", {}),
    "api.get_invoice": Op(OWNER_AND_STAFF, lambda c: f"/api/v1/invoices/{c['invoice'].id}"),
    "api.upload_proof": Op(OWNER_AND_STAFF, lambda c: f"/api/v1/invoices/{c['invoice'].id}/proofs", "POST"),
    "api.invoice_receipt": Op(OWNER_AND_STAFF, lambda c: f"/api/v1/invoices/{c['invoice'].id}/receipt"),
    "api.proof_file": Op(OWNER_AND_STAFF, lambda c: f"/api/v1/payment-proofs/{c['proof'].id}"),
    "api.payments_queue": Op(STAFF_ROLES, "/api/v1/payments"),
    "api.payments_export": Op(STAFF_ROLES, "/api/v1/payments/export"),
    "api.verify_invoice": Op(STAFF_ROLES, lambda c: f"/api/v1/invoices/{c['invoice'].id}/verify", "POST", {}),
    "api.reject_invoice": Op(STAFF_ROLES, lambda c: f"/api/v1/invoices/{c['invoice'].id}/reject", "POST", {}),
    "api.cancel_invoice": Op(STAFF_ROLES, lambda c: f"/api/v1/invoices/{c['invoice'].id}/cancel", "POST", {}),
    "api.refund_invoice": Op(STAFF_ROLES, lambda c: f"/api/v1/invoices/{c['invoice'].id}/refund", "POST", {}),
    "api.top_up": Op(STAFF_ROLES, lambda c: f"/api/v1/enrollments/{c['enrollment'].id}/top-up", "POST", {}),
    "api.set_prices": Op(STAFF_ROLES, _cls("/prices"), "PUT", {}),
    "api.bank_accounts": Op(SIGNED_IN, "/api/v1/bank-accounts"),
    "api.add_bank_account": Op(("super_admin",), "/api/v1/bank-accounts", "POST", {}),
    "api.set_bank_account_active": Op(("super_admin",), lambda c: f"/api/v1/bank-accounts/{c['bank_account'].id}"
                                      "/active", "PUT", {"active": False}),
    # A student's level and streak: the student, their classmates and instructors, staff; the XP history without
    # the classmates (the context's student is the caller, or taught by the calling instructor).
    "api.user_level": Op(SIGNED_IN, lambda c: f"/api/v1/users/{c['student_id']}/level"),
    "api.user_streak": Op(SIGNED_IN, lambda c: f"/api/v1/users/{c['student_id']}/streak"),
    "api.xp_history": Op(SIGNED_IN, lambda c: f"/api/v1/users/{c['student_id']}/xp"),
    "api.earn_xp": Op(STAFF_ROLES, "/api/v1/xp/earn", "POST", {}),
    "api.leaderboard": Op(SIGNED_IN, lambda c: f"/api/v1/leaderboard?class_id={c['class'].id}"),
    "api.leaderboard_settings": Op(TEACHING_ROLES, _cls("/leaderboard"), "PUT", {}),
    "api.leaderboard_preferences": Op(("student",), "/api/v1/me/leaderboard-preferences", "PUT", {}),
    "api.list_badges": Op(SIGNED_IN, "/api/v1/badges"),
    "api.unlock_badges": Op(("student", *STAFF_ROLES), "/api/v1/badges/unlock", "POST", {}),
})

# --- messages and community (a2) ---
# The person's class conversation and a message of a classmate in it; a post and a comment of that classmate; the
# person's own message, post and comment; an open study group and an event ahead (see `a2_context`), built only for
# the operations that use them.


def _a2(path: str) -> Callable[[dict], str]:
    """An /api/v1 URL naming the context's things by key (`{post}`: the post's id)."""

    def url(c: dict) -> str:
        if "a2_built" not in c:
            c["a2_built"] = c["a2"]()
        return "/api/v1" + path.format(**{key: getattr(value, "id", value)
                                          for key, value in {**c, **c["a2_built"]}.items()})

    return url


_NOBODY = "00000000-0000-4000-8000-000000000000"
API_ACCESS.update({
    "api.list_conversations": Op(SIGNED_IN, "/api/v1/conversations"),
    # A recipient who does not exist is a 409 "choose someone" (the rules: tests/api/test_messages_api.py).
    "api.start_conversation": Op(SIGNED_IN, "/api/v1/conversations", "POST", {"user_id": _NOBODY}),
    # The class conversation: its students and instructor as members, staff as moderators.
    "api.get_conversation": Op(SIGNED_IN, _a2("/conversations/{conversation_id}")),
    "api.conversation_messages": Op(SIGNED_IN, _a2("/conversations/{conversation_id}/messages")),
    "api.send_message": Op(SIGNED_IN, _a2("/conversations/{conversation_id}/messages"), "POST", {"text": "Halo"}),
    # Only members have a read pointer: staff reading as moderators 404.
    "api.send_message_with_file": Op(SIGNED_IN, _a2("/conversations/{conversation_id}/messages/files"), "POST"),
    "api.message_file": Op(SIGNED_IN, _a2("/messages/files/{attachment}")),
    "api.mark_conversation_read": Op(("student", "instructor"), _a2("/conversations/{conversation_id}/read"),
                                     "POST", {"message_id": _NOBODY}),
    "api.unread_messages": Op(SIGNED_IN, "/api/v1/messages/unread-count"),
    "api.message_recipients": Op(SIGNED_IN, "/api/v1/messages/people"),
    "api.delete_message": Op(SIGNED_IN, _a2("/messages/{own_message}"), "DELETE"),
    "api.report_message": Op(SIGNED_IN, _a2("/messages/{message}/report"), "POST", {"reason": "Tidak sopan"}),
    "api.remove_message": Op(STAFF_ROLES, _a2("/messages/{message}/remove"), "POST", {"reason": "Tidak sopan"}),
    "api.block_user": Op(SIGNED_IN, _a2("/messages/blocks/{other}"), "PUT"),
    "api.unblock_user": Op(SIGNED_IN, _a2("/messages/blocks/{other}"), "DELETE"),
    "api.community_feed": Op(SIGNED_IN, "/api/v1/community/posts"),
    "api.create_post": Op(SIGNED_IN, "/api/v1/community/posts", "POST", {"content": "Halo semua"}),
    "api.create_post_with_files": Op(SIGNED_IN, "/api/v1/community/posts/files", "POST"),
    "api.get_post": Op(SIGNED_IN, _a2("/community/posts/{post}")),
    "api.post_image": Op(SIGNED_IN, _a2("/community/posts/{post}/images/0")),
    "api.edit_post": Op(SIGNED_IN, _a2("/community/posts/{own_post}"), "PUT", {"content": "Diubah"}),
    "api.delete_post": Op(SIGNED_IN, _a2("/community/posts/{own_post}"), "DELETE"),
    "api.post_comments": Op(SIGNED_IN, _a2("/community/posts/{post}/comments")),
    "api.add_comment": Op(SIGNED_IN, _a2("/community/posts/{post}/comments"), "POST", {"content": "Keren"}),
    "api.delete_comment": Op(SIGNED_IN, _a2("/community/comments/{own_comment}"), "DELETE"),
    "api.like_post": Op(SIGNED_IN, _a2("/community/posts/{post}/like"), "PUT"),
    "api.unlike_post": Op(SIGNED_IN, _a2("/community/posts/{post}/like"), "DELETE"),
    "api.report_post": Op(SIGNED_IN, _a2("/community/posts/{post}/report"), "POST", {"reason": "Spam"}),
    "api.report_comment": Op(SIGNED_IN, _a2("/community/comments/{comment}/report"), "POST", {"reason": "Spam"}),
    # Moderation: staff; the pages' rule (tests/test_route_access.py).
    "api.moderate_post": Op(STAFF_ROLES, _a2("/community/posts/{post}/moderation"), "POST",
                            {"action": "hide", "reason": "Spam"}),
    "api.moderate_comment": Op(STAFF_ROLES, _a2("/community/comments/{comment}/moderation"), "POST",
                               {"action": "remove", "reason": "Spam"}),
    "api.list_groups": Op(SIGNED_IN, "/api/v1/community/groups"),
    "api.join_group": Op(SIGNED_IN, _a2("/community/groups/{group}/join"), "POST"),
    "api.leave_group": Op(SIGNED_IN, _a2("/community/groups/{group}/leave"), "POST"),
    "api.list_events": Op(SIGNED_IN, "/api/v1/community/events"),
    "api.rsvp_event": Op(SIGNED_IN, _a2("/community/events/{event}/rsvp"), "PUT", {"status": "attending"}),
})


def a2_context(owner, school_class, instructor) -> dict:
    """Messages and community things for the access table (the person is `owner`)."""
    import io
    from datetime import time, timedelta

    from PIL import Image
    from werkzeug.datastructures import FileStorage

    from babyowl.extensions import db
    from babyowl.models import Message
    from babyowl.services import community, community_events, community_groups, messages
    from babyowl.services.school_time import school_today

    classmate = make_user("student")
    make_enrollment(school_class, classmate)
    conversation_id = messages.sync_class_conversation(school_class)
    db.session.commit()
    message = messages.send_message(classmate, conversation_id, "Halo kelas")
    pdf = FileStorage(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), filename="tugas.pdf")
    attachment = messages.send_message(classmate, conversation_id, "Tugas", pdf).attachments[0]
    # Written straight in: sending would make a staff owner a member of the class conversation.
    own_message = Message(conversation_id=conversation_id, sender_id=owner.id, content="Punyaku",
                          content_html="<p>Punyaku</p>")
    db.session.add(own_message)
    db.session.commit()
    picture = io.BytesIO()
    Image.new("RGB", (20, 10), "green").save(picture, "PNG")
    picture.seek(0)
    post = community.create_post(classmate, content="Halo sekolah", images=[FileStorage(picture, filename="a.png")])
    event = community_events.create_event(instructor, title="Lokakarya", description=None,
                                          event_date=school_today() + timedelta(days=7), start_time=time(9),
                                          end_time=time(11), online=True, location=None, capacity=None)
    return {"conversation_id": conversation_id, "message": message, "own_message": own_message, "post": post,
            "attachment": attachment,
            "comment": community.add_comment(classmate, post.id, "Komentar"),
            "own_post": community.create_post(owner, content="Postinganku"),
            "own_comment": community.add_comment(owner, post.id, "Komentarku"),
            "group": community_groups.create_group(instructor, name="Klub Python"), "event": event}

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
        # --- payments, gamification (a1) ---
        a1 = _payments_context(student)
        # --- account (a3): the caller has a picture and a second signed-in device ---
        device_id = uuid.uuid4()
        if user is not None:
            from babyowl.models import UserSession
            from babyowl.services.avatars import store_avatar

            user.avatar = store_avatar(io.BytesIO(TINY_PNG))
            db.session.add(UserSession(id=device_id, user_id=user.id, user_agent="Phone"))
            db.session.commit()
        return {**a1, "device_id": device_id,
                "class": school_class, "enrollment": enrollment, "published": make_course(status="published"),
                "user_id": owner.id, "other": make_user("student"), "notification": notification,
                "announcement": announcement,
                "draft": draft, "draft_lesson": draft_lesson,
                "draft_exercise": draft_lesson.exercises[0],
                "quiz": exercise(lesson, "quiz", QUIZ), "assignment": assignment, "submission": submission,
                "coding": coding, "coding_submission": coding_submission,
                "a2": lambda: a2_context(owner, school_class, instructor)}  # --- messages and community (a2) ---

    return build


# --- payments, gamification (a1) ---
def _payments_context(student) -> dict:
    """A pending invoice of `student` for an open class, with a proof; a bank account; whose level is read."""
    import io
    import uuid
    from datetime import timedelta
    from decimal import Decimal

    from babyowl.extensions import db
    from babyowl.models import BankAccount
    from babyowl.models.base import utcnow
    from babyowl.services import payments

    today = utcnow().date()
    open_class = make_class(status="enrollment_open", package_price=Decimal("1750000"), max_capacity=5,
                            enrollment_deadline=today + timedelta(days=7), start_date=today + timedelta(days=8))
    invoice = payments.choose_class(student, open_class)
    proof = payments.submit_proof(student, invoice, payments.ProofUpload("bukti.png", io.BytesIO(
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)))
    account = BankAccount(bank_name="BCA", account_number=f"{uuid.uuid4().int % 10**10}", account_holder="Sekolah")
    db.session.add(account)
    db.session.commit()
    return {"invoice": invoice, "proof": proof, "bank_account": account, "student_id": student.id}


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
