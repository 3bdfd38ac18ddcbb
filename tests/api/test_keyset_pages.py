"""Every list of the API pages by keyset: walking the pages gives each row once, even when a row that sorts
before the cursor is written between two pages (an offset would repeat the last row of the page before);
a forged or garbled cursor is a 422 VALIDATION_ERROR, never a 500; and a page costs the same statements
however many rows there are.
"""
from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Callable

import pytest

from babyowl.models import (
    Announcement, Badge, CodingSubmission, CommunityComment, CommunityEvent, CommunityGroup, CreditAdjustment, Invoice,
    LessonUnlock, Message, Notification, QuizAttempt, XPTransaction,
)
from babyowl.models.base import utcnow
from tests.factories import make_class, make_course, make_enrollment, make_user


@dataclass
class Listing:
    url: str
    headers: dict
    add: Callable[[bool], None]  # add one row; True: one that sorts before every row already there


def _catalog(ctx):
    def add(front):
        make_course(title=("A" if front else "M") + uuid.uuid4().hex[:8])

    return Listing("/api/v1/catalog/courses", {}, add)


def _classes_staff(ctx):
    staff = make_user("staff")

    def add(front):
        make_class(start_date=date.today() + timedelta(days=400 if front else 0), enrollment_deadline=date.today())

    return Listing("/api/v1/classes", ctx["bearer"](staff), add)


def _classes_student(ctx):
    student = make_user("student")

    def add(front):
        school_class = make_class(start_date=date.today() + timedelta(days=400 if front else 0),
                                  enrollment_deadline=date.today())
        make_enrollment(school_class, student)

    return Listing("/api/v1/classes", ctx["bearer"](student), add)


def _enrollments(ctx):
    instructor = make_user("instructor")
    school_class = make_class(instructor=instructor, max_capacity=100)

    def add(front):
        make_enrollment(school_class, enrolled_at=utcnow() - timedelta(days=30 if front else 0))

    return Listing(f"/api/v1/classes/{school_class.id}/enrollments", ctx["bearer"](instructor), add)


def _attendance(ctx):
    instructor = make_user("instructor")
    school_class = make_class(instructor=instructor, max_capacity=100)
    headers = ctx["bearer"](instructor)
    client = ctx["client"]

    def add(front):
        # Marks sort by (meeting, enrollment id): the lowest id of meeting 1 comes first.
        enrollment = make_enrollment(school_class, id=uuid.UUID(int=len(added) + 1) if front else uuid.uuid4())
        added.append(enrollment)
        response = client.post(f"/api/v1/classes/{school_class.id}/attendance", headers=headers, json={
            "meeting_number": 1, "marks": [{"enrollment_id": str(enrollment.id), "status": "present"}]})
        assert response.status_code == 200, response.get_json()

    added: list = []
    return Listing(f"/api/v1/classes/{school_class.id}/attendance", headers, add)


def _credit_history(ctx):
    db = ctx["db"]
    school_class = make_class()
    student = make_user("student")
    enrollment = make_enrollment(school_class, student)

    def add(front):
        db.session.add(CreditAdjustment(enrollment_id=enrollment.id, adjustment=1, credits_before=1, credits_after=0,
                                        reason="other", reason_detail="test",
                                        adjusted_at=utcnow() - timedelta(days=30 if front else 0)))
        db.session.commit()

    return Listing(f"/api/v1/enrollments/{enrollment.id}/credits/history", ctx["bearer"](student), add)


def _newest_first(ctx, build: Callable[[object], object]) -> Callable[[bool], None]:
    """`add` for a list newest first: `build(created_at)` makes one row; the row added in front is the newest."""
    def add(front):
        ctx["db"].session.add(build(utcnow() - timedelta(days=0 if front else 1)))
        ctx["db"].session.commit()

    return add


def _notifications(ctx):
    user = make_user("student")
    return Listing("/api/v1/notifications", ctx["bearer"](user), _newest_first(
        ctx, lambda created_at: Notification(user_id=user.id, type="announcement", title="Info", message="Teks",
                                             created_at=created_at)))


def _announcements(ctx, as_student: bool):
    db = ctx["db"]
    instructor, student = make_user("instructor"), make_user("student")
    school_class = make_class(instructor=instructor)
    make_enrollment(school_class, student)

    def add(front):
        db.session.add(Announcement(class_id=school_class.id, instructor_id=instructor.id, title="Info", content="T",
                                    content_html="<p>T</p>", sent_at=utcnow() - timedelta(days=0 if front else 1)))
        db.session.commit()

    return Listing(f"/api/v1/classes/{school_class.id}/announcements",
                   ctx["bearer"](student if as_student else instructor), add)


def _open_lesson(ctx, student):
    course = make_course(lessons=1)
    lesson = course.sections[0].lessons[0]
    school_class = make_class(course=course)
    make_enrollment(school_class, student)
    ctx["db"].session.add(LessonUnlock(class_id=school_class.id, lesson_id=lesson.id))
    ctx["db"].session.commit()
    return school_class, lesson


def _coding_history(ctx):
    from tests.grading.test_grader import TESTS, coding_exercise

    db = ctx["db"]
    student = make_user("student")
    _class, lesson = _open_lesson(ctx, student)
    coding = coding_exercise(lesson, TESTS, order=5)
    numbers = iter(range(1, 1000))

    def add(front):
        db.session.add(CodingSubmission(user_id=student.id, exercise_id=coding.id, code="print(1)",
                                        attempt_number=next(numbers),
                                        created_at=utcnow() - timedelta(days=0 if front else 1)))
        db.session.commit()

    return Listing(f"/api/v1/exercises/{coding.id}/coding/submissions", ctx["bearer"](student), add)


def _quiz_attempts(ctx):
    from tests.learning_data import QUIZ, exercise

    db = ctx["db"]
    student = make_user("student")
    school_class, lesson = _open_lesson(ctx, student)
    quiz = exercise(lesson, "quiz", {**QUIZ, "attemptsAllowed": None})
    # Attempts sort by number: the numbers from 500 down are kept for rows that come first.
    numbers, front_numbers = iter(range(501, 2000)), iter(range(500, 0, -1))

    def add(front):
        db.session.add(QuizAttempt(user_id=student.id, exercise_id=quiz.id, score=1, max_score=3, answers={},
                                   attempt_number=next(front_numbers if front else numbers)))
        db.session.commit()

    return Listing(f"/api/v1/classes/{school_class.id}/exercises/{quiz.id}/quiz/attempts", ctx["bearer"](student),
                   add)


def _authored_courses(ctx):
    author = make_user("instructor")

    def add(front):
        course = make_course(author=author, status="draft")
        if not front:  # an older course
            course.created_at = utcnow() - timedelta(days=1)
            ctx["db"].session.commit()

    return Listing("/api/v1/courses", ctx["bearer"](author), add)


def _devices(ctx):
    from babyowl.models import UserSession

    db = ctx["db"]
    user = make_user("student")

    def add(front):
        db.session.add(UserSession(id=uuid.uuid4(), user_id=user.id, user_agent="Phone", last_seen_at=utcnow(),
                                   created_at=utcnow() - timedelta(days=0 if front else 1)))
        db.session.commit()

    return Listing("/api/v1/me/devices", ctx["bearer"](user), add)


def _invoices(ctx):
    student, school_class = make_user("student"), make_class()
    codes = iter(range(1, 1000))

    def invoice(created_at):
        code = next(codes)
        return Invoice(number=f"INV-{uuid.uuid4().hex[:12]}", kind="enrollment", student_id=student.id,
                       class_id=school_class.id, meetings=1, amount_due=100_000, unique_code=code,
                       expected_total=100_000 + code, due_at=utcnow(), status="expired", created_at=created_at)

    return Listing("/api/v1/invoices", ctx["bearer"](student), _newest_first(ctx, invoice))


def _xp_history(ctx):
    student = make_user("student")
    return Listing(f"/api/v1/users/{student.id}/xp", ctx["bearer"](student), _newest_first(
        ctx, lambda created_at: XPTransaction(user_id=student.id, amount=5, reason="bonus", note="Hadiah",
                                              reference_id=uuid.uuid4(), created_at=created_at)))


def _badges(ctx):
    def add(front):
        # Badges come cheapest first: the free ones sort before every badge that costs XP.
        ctx["db"].session.add(Badge(slug=uuid.uuid4().hex, name="Lencana", criteria={}, rarity="common",
                                    xp=0 if front else 1000))
        ctx["db"].session.commit()

    return Listing("/api/v1/badges", ctx["bearer"](make_user("student")), add)


def _conversations(ctx):
    from babyowl.services import messages

    instructor = make_user("instructor")

    def add(front):
        conversation = messages.start_direct(instructor, make_user("student").id)
        conversation.last_message_at = utcnow() - timedelta(days=0 if front else 1)
        ctx["db"].session.commit()

    return Listing("/api/v1/conversations", ctx["bearer"](instructor), add)


def _messages(ctx):
    from babyowl.services import messages

    instructor, student = make_user("instructor"), make_user("student")
    conversation = messages.start_direct(instructor, student.id)
    return Listing(f"/api/v1/conversations/{conversation.id}/messages", ctx["bearer"](student), _newest_first(
        ctx, lambda created_at: Message(conversation_id=conversation.id, sender_id=instructor.id, content="Halo",
                                        created_at=created_at)))


def _comments(ctx):
    from babyowl.services import community

    instructor = make_user("instructor")
    post = community.create_post(instructor, content="Halo semua")

    def add(front):
        # Comments come oldest first: the row added in front is the oldest.
        ctx["db"].session.add(CommunityComment(post_id=post.id, author_id=instructor.id, content="Keren",
                                               created_at=utcnow() - timedelta(days=30 if front else 0)))
        ctx["db"].session.commit()

    return Listing(f"/api/v1/community/posts/{post.id}/comments", ctx["bearer"](instructor), add)


def _groups(ctx):
    def add(front):
        ctx["db"].session.add(CommunityGroup(name=("A" if front else "M") + uuid.uuid4().hex[:8], status="active",
                                             join_policy="open"))
        ctx["db"].session.commit()

    return Listing("/api/v1/community/groups", ctx["bearer"](make_user("student")), add)


def _events(ctx):
    from babyowl.services.school_time import school_today

    def add(front):
        ctx["db"].session.add(CommunityEvent(title="Pameran", event_date=school_today() + timedelta(
            days=1 if front else 30), start_time=time(9), end_time=time(11)))
        ctx["db"].session.commit()

    return Listing("/api/v1/community/events", ctx["bearer"](make_user("student")), add)


LISTS = {
    "catalog": _catalog, "classes as staff": _classes_staff, "classes as a student": _classes_student,
    "enrollments": _enrollments, "attendance history": _attendance, "credit history": _credit_history,
    "notifications": _notifications, "announcements as the instructor": lambda ctx: _announcements(ctx, False),
    "announcements as a student": lambda ctx: _announcements(ctx, True), "coding submissions": _coding_history,
    "quiz attempts": _quiz_attempts, "authored courses": _authored_courses, "signed-in devices": _devices,
    "my invoices": _invoices, "XP history": _xp_history, "badges": _badges, "conversations": _conversations,
    "a conversation's messages": _messages, "a post's comments": _comments, "study groups": _groups,
    "community events": _events,
}


@pytest.fixture
def listing(client, db, bearer):
    def build(name: str, rows: int) -> Listing:
        made = LISTS[name]({"client": client, "db": db, "bearer": bearer})
        for _ in range(rows):
            made.add(False)
        return made

    return build


def _page(client, made: Listing, limit: int, cursor: str | None = None):
    separator = "&" if "?" in made.url else "?"
    url = f"{made.url}{separator}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
    response = client.get(url, headers=made.headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()


def _ids(client, made: Listing) -> list[str]:
    body = _page(client, made, 100)
    return [item.get("id") or item.get("enrollment_id") for item in body["data"]]


@pytest.mark.parametrize("name", sorted(LISTS))
def test_a_row_written_between_two_pages_repeats_and_hides_nothing(client, listing, name):
    made = listing(name, 5)
    everything = _ids(client, made)
    assert len(everything) == len(set(everything)) >= 5
    first = _page(client, made, 2)
    assert first["meta"]["has_more"] is True and len(first["data"]) == 2
    made.add(True)  # sorts before the cursor: an offset would now show the second row again
    seen = [item.get("id") or item.get("enrollment_id") for item in first["data"]]
    cursor = first["meta"].get("next_cursor")
    while cursor:
        body = _page(client, made, 2, cursor)
        seen += [item.get("id") or item.get("enrollment_id") for item in body["data"]]
        cursor = body["meta"].get("next_cursor")
        assert bool(cursor) is body["meta"]["has_more"]
    assert seen == everything  # each row once, in the list's order; the new one is before page 1


def _forged(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


BAD_CURSORS = ["%%%", "bm90IGpzb24", _forged({"a": 1}), _forged([]), _forged([1, 2, 3, 4, 5]),
               _forged(["x", "y"]), _forged([10**30, str(uuid.uuid4())]), _forged(["\u0000", "\u0000"]),
               _forged([None, None]), _forged([True, "2026-01-01"]), _forged(["2026-13-45T99:00", "nope"]),
               _forged([1.5, str(uuid.uuid4()), 3])]


@pytest.mark.parametrize("name", sorted(LISTS))
def test_a_forged_or_garbled_cursor_is_a_validation_error(client, listing, name):
    made = listing(name, 1)
    separator = "&" if "?" in made.url else "?"
    for cursor in BAD_CURSORS:
        response = client.get(f"{made.url}{separator}cursor={cursor}", headers=made.headers)
        assert response.status_code == 422, (cursor, response.get_data(as_text=True)[:300])
        assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"


def test_a_cursor_of_another_list_is_refused_or_harmless(client, listing):
    notifications, classes = listing("notifications", 3), listing("classes as staff", 3)
    cursor = _page(client, notifications, 1)["meta"]["next_cursor"]
    response = client.get(f"/api/v1/classes?cursor={cursor}", headers=classes.headers)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("name", sorted(LISTS))
def test_a_page_runs_the_same_statements_whatever_the_rows(client, listing, count_queries, name):
    made = listing(name, 2)

    def statements() -> int:
        with count_queries() as seen:
            _page(client, made, 100)
        return len(seen)

    few = statements()
    for _ in range(8):
        made.add(False)
    assert len(_page(client, made, 100)["data"]) >= 10
    assert statements() == few


def test_the_people_table_pages_by_offset_and_refuses_a_garbled_cursor(client, db, api_as):
    _, staff = api_as("staff")
    for index in range(3):
        make_user("student", full_name=f"Rina {index}")
    first = client.get("/api/v1/users?q=rina&limit=2", headers=staff).get_json()
    assert first["meta"]["total"] == 3 and first["meta"]["has_more"]  # a staff table: offset, with its total
    for cursor in ("%%%", _forged({"a": 1}), _forged([]), _forged(["x", "y"]), _forged([None, None]),
                   _forged([1, 1000])):
        response = client.get(f"/api/v1/users?cursor={cursor}", headers=staff)
        assert response.status_code == 422, (cursor, response.get_data(as_text=True)[:300])
        assert response.get_json()["error"]["code"] == "VALIDATION_ERROR"
