"""Privacy: a person downloads their data, asks to be forgotten, and a super admin erases them."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import date, time, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from babyowl.models import (
    Announcement,
    AnnouncementRead,
    AssignmentSubmission,
    Badge,
    ClassAttendance,
    ClassEnrollment,
    CodingSubmission,
    CommunityComment,
    CommunityEvent,
    CommunityEventRSVP,
    CommunityGroup,
    CommunityGroupMember,
    CommunityPost,
    CommunityPostLike,
    Conversation,
    CreditAdjustment,
    Exercise,
    ExerciseProgress,
    LessonProgress,
    Message,
    ConversationMember,
    Notification,
    Payment,
    QuizAttempt,
    User,
    UserBadge,
    UserLevel,
    XPTransaction,
)
from babyowl.models.base import Base, utcnow
from babyowl.services import accounts, privacy
from babyowl.services.errors import NotAllowed
from babyowl.storage import get_storage
from babyowl.models.messaging import direct_key
from tests.factories import PASSWORD, make_class, make_course, make_enrollment, make_user


@pytest.fixture
def app(make_app, tmp_path):
    return make_app(STORAGE_BACKEND="local", STORAGE_DIR=str(tmp_path / "files"))


def read_export(archive: bytes) -> tuple[dict, zipfile.ZipFile]:
    bundle = zipfile.ZipFile(io.BytesIO(archive))
    assert bundle.testzip() is None
    return json.loads(bundle.read("data.json").decode("utf-8")), bundle


def make_school(db):
    """Siti, a student with a bit of everything; Rudi, a classmate; their instructor."""
    storage = get_storage()
    instructor = make_user("instructor", full_name="Budi Santoso")
    siti = make_user("student", email="siti@example.com", full_name="Siti Rahma", bio="Suka Python",
                     avatar="avatars/siti.jpg")
    rudi = make_user("student", email="rudi@example.com", full_name="Rudi Hartono", avatar="avatars/rudi.png")
    storage.save("avatars/siti.jpg", b"siti-face", "image/jpeg")
    storage.save("avatars/rudi.png", b"rudi-face", "image/png")

    course = make_course(lessons=1, title="Python Dasar")
    lesson = course.sections[0].lessons[0]
    quiz = Exercise(lesson=lesson, title="Kuis 1", type="quiz", content={}, order_index=1)
    task = Exercise(lesson=lesson, title="Tugas 1", type="assignment", content={}, order_index=2)
    code = Exercise(lesson=lesson, title="Kode 1", type="coding", content={}, order_index=3)
    db.session.add_all([quiz, task, code])
    db.session.commit()

    school_class = make_class(course, instructor, name="Python Sabtu")
    enrollment = make_enrollment(school_class, siti, meeting_credits=8, credits_used=3,
                                 payment_amount=Decimal("1500000.00"), attendance_rate=Decimal("75.00"))
    rudi_enrollment = make_enrollment(school_class, rudi)
    attendance = ClassAttendance(class_id=school_class.id, enrollment_id=enrollment.id, meeting_number=1,
                                 meeting_date=date(2025, 3, 1), status="present", credit_deducted=True,
                                 marked_by=instructor.id, notes="Datang tepat waktu")
    rudi_attendance = ClassAttendance(class_id=school_class.id, enrollment_id=rudi_enrollment.id, meeting_number=1,
                                      meeting_date=date(2025, 3, 1), status="absent")
    adjustment = CreditAdjustment(enrollment_id=enrollment.id, adjustment=1, credits_before=4, credits_after=3,
                                  reason="makeup_class", adjusted_by=instructor.id)

    siti_file = AssignmentSubmission(exercise_id=task.id, student_id=siti.id, type="file",
                                     file_url="submissions/siti-essay.pdf", file_name="esai saya.pdf")
    siti_lost_file = AssignmentSubmission(exercise_id=task.id, student_id=siti.id, type="file", version=2,
                                          file_url="submissions/lost.pdf", file_name="../../lost.pdf")
    rudi_file = AssignmentSubmission(exercise_id=task.id, student_id=rudi.id, type="file",
                                     file_url="submissions/rudi.pdf", file_name="rudi.pdf")
    storage.save("submissions/siti-essay.pdf", b"%PDF siti", "application/pdf")
    storage.save("submissions/rudi.pdf", b"%PDF rudi", "application/pdf")

    badge = Badge(slug="langkah-pertama", name="Langkah Pertama", rarity="common", criteria={"type": "never"})
    announcement = Announcement(instructor_id=instructor.id, class_id=school_class.id, title="Libur",
                                content="Tidak ada kelas minggu depan")

    # Community: Siti's own post, which Rudi liked and commented on; Rudi's post,
    # which both liked and both commented on; a group and an event they share.
    siti_post = CommunityPost(author_id=siti.id, content="Halo semua", likes_count=1, comments_count=1)
    rudi_post = CommunityPost(author_id=rudi.id, content="Ada yang bisa bantu?", likes_count=2, comments_count=2)
    group = CommunityGroup(name="Pythonista", members_count=3)
    event = CommunityEvent(title="Ngoding bareng", event_date=date(2025, 4, 1), start_time=time(19),
                           end_time=time(21), attendees_count=2)
    conversation = Conversation(kind="direct", direct_key=direct_key(siti.id, rudi.id))
    db.session.add_all([attendance, rudi_attendance, adjustment, siti_file, siti_lost_file, rudi_file, badge,
                        announcement, siti_post, rudi_post, group, event, conversation])
    db.session.flush()

    db.session.add_all([
        QuizAttempt(user_id=siti.id, exercise_id=quiz.id, score=8, max_score=10, answers={"q1": "b"}),
        QuizAttempt(user_id=rudi.id, exercise_id=quiz.id, score=5, max_score=10, answers={"q1": "a"}),
        CodingSubmission(user_id=siti.id, exercise_id=code.id, code="print('halo')", score=3, max_score=3,
                         passed=True),
        XPTransaction(user_id=siti.id, amount=50, reason="quiz_passed", reference_id=quiz.id),
        XPTransaction(user_id=rudi.id, amount=20, reason="quiz_passed", reference_id=quiz.id),
        UserLevel(user_id=siti.id, total_xp=50),
        UserBadge(user_id=siti.id, badge_id=badge.id),
        LessonProgress(user_id=siti.id, lesson_id=lesson.id, completed=True),
        ExerciseProgress(user_id=siti.id, exercise_id=quiz.id, completed=True),
        Notification(user_id=siti.id, type="badge_earned", title="Lencana baru"),
        Notification(user_id=rudi.id, type="badge_earned", title="Lencana Rudi"),
        AnnouncementRead(announcement_id=announcement.id, user_id=siti.id),
        CommunityPostLike(post_id=siti_post.id, user_id=rudi.id),
        CommunityComment(post_id=siti_post.id, author_id=rudi.id, content="Halo juga"),
        CommunityPostLike(post_id=rudi_post.id, user_id=siti.id),
        CommunityPostLike(post_id=rudi_post.id, user_id=rudi.id),
        CommunityComment(post_id=rudi_post.id, author_id=siti.id, content="Coba pakai for"),
        CommunityComment(post_id=rudi_post.id, author_id=rudi.id, content="Terima kasih"),
        CommunityGroupMember(group_id=group.id, user_id=siti.id),
        CommunityGroupMember(group_id=group.id, user_id=rudi.id),
        CommunityGroupMember(group_id=group.id, user_id=instructor.id, role="creator"),
        CommunityEventRSVP(event_id=event.id, user_id=siti.id, status="attending"),
        CommunityEventRSVP(event_id=event.id, user_id=rudi.id, status="attending"),
        Message(conversation_id=conversation.id, sender_id=siti.id, content="Rahasia Siti"),
        ConversationMember(conversation_id=conversation.id, user_id=siti.id),
        ConversationMember(conversation_id=conversation.id, user_id=rudi.id),
        Message(conversation_id=conversation.id, sender_id=rudi.id, content="Balasan Rudi"),
        # Staff typed the address in another case, with a stray space.
        Payment(student_name="Siti Rahma", student_email=" SITI@Example.com", student_phone="0812-1111",
                course_id=course.id, amount=Decimal("1500000.00"), status="verified"),
        Payment(student_name="Rudi Hartono", student_email="rudi@example.com", student_phone="0812-2222",
                amount=Decimal("900000.00")),
    ])
    db.session.commit()
    return SimpleNamespace(siti=siti, rudi=rudi, instructor=instructor, school_class=school_class,
                           enrollment=enrollment, rudi_enrollment=rudi_enrollment, siti_post=siti_post,
                           rudi_post=rudi_post, group=group, event=event, siti_file=siti_file)


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def snapshot(db) -> dict:
    """Every table's row count and every user's row: enough to see that nothing changed."""
    db.session.expire_all()
    counts = {table.name: db.session.scalar(select(func.count()).select_from(table))
              for table in Base.metadata.sorted_tables}
    users = {u.id: (u.email, u.full_name, u.password_hash, u.status, u.avatar, u.erased_at)
             for u in db.session.scalars(select(User))}
    return {"counts": counts, "users": users}


# --- export -------------------------------------------------------------------

def test_export_holds_the_students_data_and_files(db):
    school = make_school(db)

    data, bundle = read_export(privacy.export_user_data(school.siti))

    assert data["profile"]["email"] == "siti@example.com"
    assert data["profile"]["full_name"] == "Siti Rahma"
    assert data["profile"]["id"] == str(school.siti.id)
    assert data["exported_at"].endswith("+00:00")
    [enrollment] = data["enrollments"]
    assert enrollment["class"] == "Python Sabtu"
    assert enrollment["course"] == "Python Dasar"
    assert enrollment["credits_remaining"] == 5
    assert enrollment["payment_amount"] == "1500000.00"
    [mark] = data["attendance"]
    assert (mark["meeting_number"], mark["meeting_date"], mark["status"]) == (1, "2025-03-01", "present")
    assert data["credit_adjustments"][0]["reason"] == "makeup_class"
    [attempt] = data["quiz_attempts"]
    assert (attempt["score"], attempt["max_score"], attempt["answers"]) == (8, 10, {"q1": "b"})
    assert data["coding_submissions"][0]["code"] == "print('halo')"
    assert [b["name"] for b in data["badges"]] == ["Langkah Pertama"]
    assert [m["content"] for m in data["messages"]] == ["Rahasia Siti"]
    assert [c["content"] for c in data["community_comments"]] == ["Coba pakai for"]
    [payment] = data["payments"]
    assert (payment["student_name"], payment["amount"], payment["course"]) == ("Siti Rahma", "1500000.00",
                                                                               "Python Dasar")

    assert bundle.read("files/avatar.jpg") == b"siti-face"
    assert bundle.read(f"files/assignments/{school.siti_file.id}-esai saya.pdf") == b"%PDF siti"


def test_export_lists_a_lost_file_instead_of_failing(db):
    make_school(db)
    siti = db.session.scalar(select(User).where(User.email == "siti@example.com"))

    data, bundle = read_export(privacy.export_user_data(siti))

    [missing] = data["missing_files"]
    assert missing["key"] == "submissions/lost.pdf"
    # The name the browser sent cannot climb out of the archive's folder.
    assert missing["file"].startswith("files/assignments/") and ".." not in missing["file"]
    assert missing["file"] not in bundle.namelist()


def test_export_never_contains_another_students_data(db):
    make_school(db)
    siti = db.session.scalar(select(User).where(User.email == "siti@example.com"))

    archive = privacy.export_user_data(siti)

    data, bundle = read_export(archive)
    text = bundle.read("data.json").decode("utf-8")
    for other in ("Rudi", "rudi@", "Lencana Rudi", "Balasan Rudi", "Terima kasih", "0812-2222", "900000"):
        assert other not in text
    assert all(b"rudi" not in bundle.read(name) for name in bundle.namelist())
    assert len(data["xp_transactions"]) == 1 and len(data["notifications"]) == 1


def test_export_of_a_new_account_is_a_valid_archive_with_empty_lists(db):
    user = make_user("student", email="baru@example.com")

    data, bundle = read_export(privacy.export_user_data(user))

    assert bundle.namelist() == ["data.json"]
    assert data["profile"]["email"] == "baru@example.com"
    for key in ("enrollments", "attendance", "credit_adjustments", "quiz_attempts", "coding_submissions",
                "assignment_submissions", "xp_transactions", "badges", "notifications", "community_posts",
                "community_comments", "messages", "payments", "missing_files"):
        assert data[key] == [], key


def test_export_runs_the_same_number_of_queries_however_much_there_is(db, count_queries):
    student = make_user("student")
    course = make_course()

    def add_class_with_a_mark():
        enrollment = make_enrollment(make_class(course), student)
        db.session.add(ClassAttendance(class_id=enrollment.class_id, enrollment_id=enrollment.id, meeting_number=1,
                                       meeting_date=date(2025, 3, 1), status="present"))
        db.session.add(CreditAdjustment(enrollment_id=enrollment.id, adjustment=1, credits_before=1,
                                        credits_after=0, reason="bonus"))
        db.session.commit()

    add_class_with_a_mark()
    db.session.expire_all()
    with count_queries() as few:
        privacy.export_user_data(student)
    for _ in range(3):
        add_class_with_a_mark()
    db.session.expire_all()
    with count_queries() as many:
        data, _bundle = read_export(privacy.export_user_data(student))

    assert len(data["enrollments"]) == 4 and len(data["attendance"]) == 4
    assert len(many) == len(few)


# --- deletion request ---------------------------------------------------------

def test_asking_for_deletion_records_the_first_request(db):
    user = make_user("student")

    accounts.request_deletion(user, PASSWORD)
    db.session.expire_all()
    first = db.session.get(User, user.id).deletion_requested_at
    assert first is not None and utcnow() - first < timedelta(minutes=1)

    accounts.request_deletion(user, PASSWORD)
    db.session.expire_all()
    assert db.session.get(User, user.id).deletion_requested_at == first


def test_an_erased_account_cannot_ask_for_deletion(db):
    admin = make_user("super_admin")
    user = make_user("student")
    privacy.erase_user(admin, user)

    with pytest.raises(privacy.AlreadyErased, match="already been erased"):
        accounts.request_deletion(user, PASSWORD)
    db.session.expire_all()
    assert db.session.get(User, user.id).deletion_requested_at is None


# --- erasure ------------------------------------------------------------------

@pytest.mark.parametrize("role", ["staff", "instructor", "student"])
def test_only_a_super_admin_may_erase(db, role):
    school = make_school(db)
    actor = make_user(role)
    before = snapshot(db)

    with pytest.raises(NotAllowed, match="Only a super admin"):
        privacy.erase_user(actor, school.siti)

    assert snapshot(db) == before
    assert get_storage().exists("avatars/siti.jpg")


def test_a_super_admin_cannot_erase_themselves(db):
    admin = make_user("super_admin")
    before = snapshot(db)

    with pytest.raises(privacy.CannotEraseSelf, match="your own account"):
        privacy.erase_user(admin, admin)

    assert snapshot(db) == before


def test_an_account_is_erased_only_once(db):
    school = make_school(db)
    admin = make_user("super_admin")
    privacy.erase_user(admin, school.siti)
    before = snapshot(db)

    with pytest.raises(privacy.AlreadyErased, match="already been erased"):
        privacy.erase_user(admin, school.siti)

    assert snapshot(db) == before


def test_erasing_keeps_the_school_records_and_forgets_the_person(db):
    school = make_school(db)
    admin = make_user("super_admin")
    siti_id, rudi_id = school.siti.id, school.rudi.id
    rudi_post_edited_at = school.rudi_post.updated_at
    storage = get_storage()

    privacy.erase_user(admin, school.siti)
    db.session.expire_all()

    siti = db.session.get(User, siti_id)
    assert siti.email == f"erased-{siti_id.hex}@erased.invalid"
    assert siti.full_name == "Erased user"
    assert (siti.avatar, siti.bio, siti.password_hash) == (None, None, None)
    assert (siti.status, siti.email_verified, siti.onboarding_completed) == ("inactive", False, False)
    assert siti.erased_at is not None

    # The school's records still point at the same (now anonymous) student.
    enrollment = db.session.get(ClassEnrollment, school.enrollment.id)
    assert enrollment.student_id == siti_id and enrollment.credits_remaining == 5
    assert count(db, ClassAttendance, ClassAttendance.enrollment_id == enrollment.id) == 1
    assert count(db, CreditAdjustment, CreditAdjustment.enrollment_id == enrollment.id) == 1
    assert count(db, Announcement) == 1

    payment = db.session.scalar(select(Payment).where(Payment.status == "verified"))
    assert (payment.student_name, payment.student_phone) == (None, None)
    assert payment.student_email == siti.email and payment.amount == Decimal("1500000.00")
    rudi_payment = db.session.scalar(select(Payment).where(Payment.status == "pending"))
    assert (rudi_payment.student_name, rudi_payment.student_phone) == ("Rudi Hartono", "0812-2222")

    # What was only about Siti is gone; Rudi's own rows are untouched.
    for model, column in ((QuizAttempt, QuizAttempt.user_id), (CodingSubmission, CodingSubmission.user_id),
                          (AssignmentSubmission, AssignmentSubmission.student_id),
                          (Notification, Notification.user_id), (XPTransaction, XPTransaction.user_id),
                          (UserLevel, UserLevel.user_id), (UserBadge, UserBadge.user_id),
                          (LessonProgress, LessonProgress.user_id), (ExerciseProgress, ExerciseProgress.user_id),
                          (AnnouncementRead, AnnouncementRead.user_id), (CommunityPost, CommunityPost.author_id),
                          (CommunityComment, CommunityComment.author_id),
                          (CommunityPostLike, CommunityPostLike.user_id),
                          (CommunityGroupMember, CommunityGroupMember.user_id),
                          (CommunityEventRSVP, CommunityEventRSVP.user_id), (Message, Message.sender_id)):
        assert count(db, model, column == siti_id) == 0, model.__name__
    # The conversation stays Rudi's: Siti's message is still in it, with no sender; her membership is gone.
    assert count(db, Conversation) == 1 and count(db, Message) == 2
    assert count(db, Message, Message.sender_id.is_(None)) == 1
    assert db.session.scalars(select(ConversationMember.user_id)).all() == [rudi_id]
    for model, column in ((QuizAttempt, QuizAttempt.user_id), (Notification, Notification.user_id),
                          (XPTransaction, XPTransaction.user_id),
                          (AssignmentSubmission, AssignmentSubmission.student_id)):
        assert count(db, model, column == rudi_id) == 1, model.__name__
    assert db.session.get(User, rudi_id).full_name == "Rudi Hartono"
    assert count(db, ClassAttendance, ClassAttendance.enrollment_id == school.rudi_enrollment.id) == 1

    # Counters on other people's things match their rows again.
    rudi_post = db.session.get(CommunityPost, school.rudi_post.id)
    assert (rudi_post.likes_count, rudi_post.comments_count) == (1, 1)
    assert rudi_post.updated_at == rudi_post_edited_at  # a recount is not an edit of Rudi's post
    assert db.session.get(CommunityGroup, school.group.id).members_count == 2
    assert db.session.get(CommunityEvent, school.event.id).attendees_count == 1
    # Rudi's like and comment on Siti's post went with the post.
    assert count(db, CommunityComment, CommunityComment.author_id == rudi_id) == 1

    assert not storage.exists("avatars/siti.jpg")
    assert not storage.exists("submissions/siti-essay.pdf")
    assert storage.exists("avatars/rudi.png") and storage.exists("submissions/rudi.pdf")


def test_a_storage_failure_after_erasure_is_logged_not_raised(db, monkeypatch, caplog):
    admin = make_user("super_admin")
    user = make_user("student", avatar="avatars/x.jpg")
    storage = get_storage()

    def broken_delete(key):
        raise OSError("disk unavailable")

    monkeypatch.setattr(storage, "delete", broken_delete)
    privacy.erase_user(admin, user)

    db.session.expire_all()
    assert db.session.get(User, user.id).erased_at is not None
    assert "avatars/x.jpg" in caplog.text


def test_an_erased_user_can_no_longer_sign_in(db):
    admin = make_user("super_admin")
    user = make_user("student", email="pergi@example.com")
    assert accounts.sign_in("pergi@example.com", PASSWORD).id == user.id

    privacy.erase_user(admin, user)

    with pytest.raises(accounts.SignInRefused):
        accounts.sign_in("pergi@example.com", PASSWORD)
    with pytest.raises(accounts.SignInRefused):
        accounts.sign_in(f"erased-{user.id.hex}@erased.invalid", PASSWORD)


def test_the_old_address_is_free_for_a_new_account_after_erasure(db):
    admin = make_user("super_admin")
    user = make_user("student", email="lagi@example.com")
    db.session.add(Payment(student_name="Siti Lama", student_email="lagi@example.com", amount=Decimal("100.00")))
    db.session.commit()
    privacy.erase_user(admin, user)

    again = accounts.create_user(email="lagi@example.com", full_name="Siti Baru", role="student")

    assert again.id != user.id
    # The new account sees nothing of the erased one.
    data, _bundle = read_export(privacy.export_user_data(again))
    assert data["enrollments"] == [] and data["payments"] == []


def test_two_admins_erasing_at_once_erase_once(app, db):
    import threading

    first_admin, second_admin = make_user("super_admin"), make_user("super_admin")
    user = make_user("student", avatar="avatars/race.jpg")
    ids = [(first_admin.id, user.id), (second_admin.id, user.id)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def erase(admin_id, user_id):
        with app.app_context():
            admin, target = db.session.get(User, admin_id), db.session.get(User, user_id)
            barrier.wait()
            try:
                privacy.erase_user(admin, target)
                outcomes.append("erased")
            except privacy.AlreadyErased:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=erase, args=pair) for pair in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["erased", "refused"]


def test_email_choices_and_language_are_exported_and_erased(db):
    from babyowl.models import NotificationPreference

    admin = make_user("super_admin")
    user = make_user("student", language="en")
    db.session.add(NotificationPreference(user_id=user.id, kind="announcement", email=False))
    db.session.commit()

    data, _ = read_export(privacy.export_user_data(user))
    assert data["profile"]["language"] == "en"
    assert data["notification_email_choices"] == [{"kind": "announcement", "email": False}]

    privacy.erase_user(admin, user)
    db.session.expire_all()
    assert db.session.get(User, user.id).language is None
    assert count(db, NotificationPreference, NotificationPreference.user_id == user.id) == 0


# --- every table with a person's data ------------------------------------------

def test_every_column_pointing_at_a_person_has_an_export_and_erasure_decision():
    assert privacy.unhandled_user_columns() == []
    # Nothing stale either: every decision names a real foreign key to users.
    real = {(t.name, fk.parent.name) for t in Base.metadata.sorted_tables for fk in t.foreign_keys
            if fk.column.table.name == "users"}
    assert set(privacy.PERSONAL_DATA) == real


def test_a_new_table_with_a_user_column_cannot_escape_export_and_erasure():
    import sqlalchemy as sa

    metadata = sa.MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    sa.Table("streak_freezes", metadata, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("student_id", sa.Uuid, sa.ForeignKey("users.id")))
    assert privacy.unhandled_user_columns(metadata) == [("streak_freezes", "student_id")]


def test_every_exported_decision_is_a_key_of_the_export(db):
    user = make_user("student")
    data, _bundle = read_export(privacy.export_user_data(user))
    keys = {handling.export for handling in privacy.PERSONAL_DATA.values() if handling.export}
    assert keys <= set(data)


def test_signed_in_devices_and_emails_are_exported_and_erased(app, db):
    from babyowl import emails
    from babyowl.models import OutboundEmail, UserSession
    from babyowl.services import sessions
    from babyowl.transactions import unit_of_work

    admin = make_user("super_admin")
    user = make_user("student", email="pergi@example.com")
    with unit_of_work():
        sessions.start_session(user, user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile Safari/537.36",
                               ip="203.0.113.9")
        emails.send(emails.Email(user.email, "Halo", "Teks"), user_id=user.id)

    data, _bundle = read_export(privacy.export_user_data(user))
    [device] = data["sessions"]
    assert (device["device"], device["ip"], device["signed_out_at"]) == ("Chrome / Android", "203.0.113.9", None)
    assert [(m["to"], m["subject"]) for m in data["emails"]] == [("pergi@example.com", "Halo")]

    privacy.erase_user(admin, user)
    assert count(db, UserSession, UserSession.user_id == user.id) == 0
    assert count(db, OutboundEmail, OutboundEmail.user_id == user.id) == 0
    # Only the notice of the erasure is left to send, to the old address and tied to nobody.
    [notice] = db.session.scalars(select(OutboundEmail).where(OutboundEmail.user_id.is_(None))).all()
    assert notice.to_address == "pergi@example.com" and "deleted" in notice.subject
