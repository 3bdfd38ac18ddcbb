"""`flask db upgrade` on an empty PostgreSQL gives every table of the spec with its constraints."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from babyowl.models import ClassAttendance, ClassEnrollment, Conversation, Course, Message, Section, User
from tests.factories import make_class, make_course, make_enrollment, make_user

SPEC_TABLES = {
    "users", "courses", "sections", "lessons", "exercises", "classes", "class_enrollments", "class_attendance",
    "credit_adjustments", "lesson_unlocks", "lesson_progress", "exercise_progress", "quiz_attempts",
    "coding_submissions", "assignment_submissions", "xp_transactions", "user_levels", "badges", "user_badges",
    "payments", "notifications", "community_posts", "community_post_likes", "community_comments",
    "community_groups", "community_group_members", "community_events", "community_event_rsvps", "messages",
    "conversations", "announcements", "announcement_reads",
}


def test_migrated_database_has_every_spec_table(db):
    tables = set(sa.inspect(db.engine).get_table_names())
    assert SPEC_TABLES <= tables
    # Beyond the spec: the history of attendance marks (see babyowl/models/attendance.py)
    # and email choices per kind of notification (babyowl/models/notifications.py), signed-in sessions and
    # the email outbox (babyowl/models/sessions.py).
    assert tables - SPEC_TABLES == {"alembic_version", "attendance_changes", "notification_preferences",
                                    "user_sessions", "outbound_emails",
                                    # gamification (babyowl/models/gamification.py)
                                    "class_leaderboards", "streak_repairs",
                                    # messaging (babyowl/models/messaging.py)
                                    "conversation_members", "message_attachments", "message_reports",
                                    "user_blocks", "conversation_read_audits",
                                    # Community (babyowl/models/community.py): post pictures, group
                                    # invitations, reports to moderators, the school's community settings.
                                    "community_post_images", "community_group_invitations", "community_reports",
                                    "community_settings",
                                    # invoices and what they hold (babyowl/models/payments.py)
                                    "bank_accounts", "invoices", "invoice_events", "payment_proofs",
                                    "invoice_deliveries",
                                    }


def test_spec_indexes_exist_with_their_names(db):
    inspector = sa.inspect(db.engine)
    names = {ix["name"] for table in SPEC_TABLES for ix in inspector.get_indexes(table)}
    for expected in ("idx_users_email", "idx_users_role", "idx_class_enrollments_class", "idx_class_attendance_date",
                     "idx_credit_adjustments_enrollment", "idx_messages_created"):
        assert expected in names


def test_ids_are_native_uuids_and_content_is_jsonb(db):
    columns = {c["name"]: c["type"] for c in sa.inspect(db.engine).get_columns("exercises")}
    assert isinstance(columns["id"], sa.UUID)
    assert columns["content"].__class__.__name__ == "JSONB"
    created = {c["name"]: c["type"] for c in sa.inspect(db.engine).get_columns("users")}["created_at"]
    assert created.timezone is True


def test_a_second_enrollment_of_the_same_student_in_a_class_is_refused(db):
    school_class = make_class()
    student = make_user("student")
    make_enrollment(school_class, student)
    db.session.add(ClassEnrollment(class_id=school_class.id, student_id=student.id, meeting_credits=10))
    with pytest.raises(IntegrityError, match="uq_class_enrollments_class_id_student_id"):
        db.session.commit()


@pytest.mark.parametrize("field, value", [("role", "teacher"), ("status", "banned")])
def test_a_user_with_an_unknown_role_or_status_is_refused(db, field, value):
    fields = {"email": "x@example.com", "full_name": "X", "role": "student", field: value}
    db.session.add(User(**fields))
    with pytest.raises(IntegrityError, match=f"ck_users_{field}"):
        db.session.commit()


def test_the_same_email_cannot_register_twice(db):
    make_user(email="same@example.com")
    db.session.add(User(email="same@example.com", full_name="Other", role="student"))
    with pytest.raises(IntegrityError):
        db.session.commit()


def test_attendance_status_and_one_mark_per_student_per_meeting(db):
    school_class = make_class()
    enrollment = make_enrollment(school_class)
    mark = dict(class_id=school_class.id, enrollment_id=enrollment.id, meeting_number=1,
                meeting_date=school_class.start_date)
    db.session.add(ClassAttendance(**mark, status="sick"))
    with pytest.raises(IntegrityError, match="ck_class_attendance_status"):
        db.session.commit()
    db.session.rollback()
    db.session.add(ClassAttendance(**mark, status="present"))
    db.session.commit()
    db.session.add(ClassAttendance(**mark, status="absent"))
    with pytest.raises(IntegrityError, match="uq_class_attendance_enrollment_id_meeting_number"):
        db.session.commit()


def test_a_class_needs_at_least_one_meeting(db):
    with pytest.raises(IntegrityError, match="ck_classes_total_meetings_positive"):
        make_class(total_meetings=0)


def test_deleting_a_course_deletes_its_sections_lessons_and_exercises(db):
    course = make_course(lessons=2)
    course_id = course.id
    db.session.execute(sa.delete(Course).where(Course.id == course_id))
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Section)) == 0
    assert db.session.scalar(sa.text("SELECT count(*) FROM exercises")) == 0


def test_deleting_a_sender_keeps_the_message_without_sender(db):
    from babyowl.models import ConversationMember
    from babyowl.models.messaging import direct_key

    a, b = make_user(), make_user()
    conversation = Conversation(kind="direct", direct_key=direct_key(a.id, b.id))
    db.session.add(conversation)
    db.session.flush()
    db.session.add_all([ConversationMember(conversation_id=conversation.id, user_id=a.id),
                        ConversationMember(conversation_id=conversation.id, user_id=b.id),
                        Message(conversation_id=conversation.id, sender_id=a.id, content="Halo")])
    db.session.commit()
    db.session.execute(sa.delete(User).where(User.id == a.id))
    db.session.commit()
    # b keeps the conversation and the message, which no longer names a sender; a's membership is gone.
    assert db.session.scalar(sa.select(Message.sender_id)) is None
    assert db.session.scalars(sa.select(ConversationMember.user_id)).all() == [b.id]


def test_a_direct_pair_has_one_conversation_and_a_class_one(db):
    from babyowl.models.messaging import direct_key

    a, b = make_user(), make_user()
    assert direct_key(a.id, b.id) == direct_key(b.id, a.id)
    db.session.add(Conversation(kind="direct", direct_key=direct_key(a.id, b.id)))
    db.session.commit()
    db.session.add(Conversation(kind="direct", direct_key=direct_key(b.id, a.id)))
    with pytest.raises(IntegrityError, match="uq_conversations_direct_key"):
        db.session.commit()
    db.session.rollback()
    db.session.add(Conversation(kind="class", direct_key=direct_key(a.id, b.id)))
    with pytest.raises(IntegrityError, match="ck_conversations_kind_key"):
        db.session.commit()


def test_timestamps_come_back_timezone_aware(db):
    user = make_user()
    db.session.expire_all()
    fresh = db.session.get(User, user.id)
    assert fresh.created_at.tzinfo is not None
    assert fresh.created_at.utcoffset().total_seconds() == 0


def test_naive_datetimes_are_refused(db):
    from datetime import datetime

    user = make_user()
    user.last_login_at = datetime(2026, 1, 1, 12, 0)
    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        db.session.commit()


# Row invariants (migration 0007): the services give the message, the database is the last guard.

def _refused(db, statement, constraint: str) -> None:
    with pytest.raises(IntegrityError, match=constraint):
        db.session.execute(statement)
        db.session.flush()
    db.session.rollback()


def test_a_class_never_has_more_lessons_open_than_meetings_held_nor_more_students_than_seats(db):
    from babyowl.models import SchoolClass

    school_class = make_class(max_capacity=2)
    where = SchoolClass.id == school_class.id
    _refused(db, sa.update(SchoolClass).where(where).values(lessons_unlocked=1, meetings_completed=0),
             "ck_classes_unlocked_within_meetings_held")
    _refused(db, sa.update(SchoolClass).where(where).values(current_capacity=3), "ck_classes_capacity_within_max")
    _refused(db, sa.update(SchoolClass).where(where).values(enrollment_deadline=None), "ck_classes_group_has_deadline")
    # The same values inside the rules are accepted.
    db.session.execute(sa.update(SchoolClass).where(where).values(lessons_unlocked=1, meetings_completed=1,
                                                                  current_capacity=2))
    db.session.commit()
    # A private class needs no deadline.
    make_class(type="private", max_capacity=1, enrollment_deadline=None)


def test_a_mark_belongs_to_its_enrollments_class(db):
    one, other = make_class(), make_class()
    enrollment = make_enrollment(one)
    db.session.add(ClassAttendance(class_id=other.id, enrollment_id=enrollment.id, meeting_number=1,
                                   meeting_date=one.start_date, status="present"))
    with pytest.raises(IntegrityError, match="fk_class_attendance_enrollment_class"):
        db.session.commit()


def test_attempt_and_version_numbers_are_unique_and_scores_stay_within_their_maximum(db):
    from babyowl.models import AssignmentSubmission, CodingSubmission, QuizAttempt

    student = make_user()
    exercise = make_course(lessons=1).sections[0].lessons[0].exercises[0]
    quiz = dict(user_id=student.id, exercise_id=exercise.id, answers={}, max_score=5)
    db.session.add(QuizAttempt(**quiz, score=3, attempt_number=1))
    db.session.commit()
    _refused(db, sa.insert(QuizAttempt).values(id=uuid.uuid4(), **quiz, score=4, attempt_number=1),
             "uq_quiz_attempts_number")
    _refused(db, sa.insert(QuizAttempt).values(id=uuid.uuid4(), **quiz, score=6, attempt_number=2),
             "ck_quiz_attempts_score_within_max")

    coding = dict(user_id=student.id, exercise_id=exercise.id, code="print(1)")
    db.session.add(CodingSubmission(**coding, attempt_number=1))
    db.session.commit()
    _refused(db, sa.insert(CodingSubmission).values(id=uuid.uuid4(), **coding, attempt_number=1),
             "uq_coding_submissions_number")
    _refused(db, sa.insert(CodingSubmission).values(id=uuid.uuid4(), **coding, attempt_number=2, score=11,
                                                    max_score=10), "ck_coding_submissions_score_within_max")

    work = dict(student_id=student.id, exercise_id=exercise.id, type="text", text_content="Jawaban")
    db.session.add(AssignmentSubmission(**work, version=1))
    db.session.commit()
    _refused(db, sa.insert(AssignmentSubmission).values(id=uuid.uuid4(), **work, version=1),
             "uq_assignment_submissions_version")
    _refused(db, sa.insert(AssignmentSubmission).values(id=uuid.uuid4(), **work, version=2, grade=101, max_grade=100),
             "ck_assignment_submissions_grade_within_max")


def test_a_classs_meetings_are_found_by_one_index_whatever_the_schools_history(db):
    # max(meeting_number) of one class must not walk other classes' marks (migration 0014).
    indexes = {ix["name"]: ix["column_names"] for ix in sa.inspect(db.engine).get_indexes("class_attendance")}
    assert indexes["idx_class_attendance_class_meeting"] == ["class_id", "meeting_number"]
