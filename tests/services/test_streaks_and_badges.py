"""Streaks counted in the student's day, badges by criterion classes, Open Badges documents."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from babyowl.extensions import db as _db
from babyowl.models import (
    Badge, ClassAttendance, ClassEnrollment, Notification, QuizAttempt, UserBadge, UserLevel, XPTransaction,
)
from babyowl.services import badges, leaderboards, streaks, xp
from babyowl.services.badge_criteria import REGISTRY, Facts, InvalidCriteria, criterion_for
from babyowl.services.errors import DomainError
from tests.factories import make_class, make_course, make_enrollment, make_user
from tests.learning_data import QUIZ, exercise

D = date(2026, 11, 2)  # a Monday


def day(n: int) -> date:
    return D + timedelta(days=n)


# --- streaks (pure) ---------------------------------------------------------------

def test_a_run_ending_today_or_yesterday_is_alive():
    assert streaks.daily_run({day(0), day(1), day(2)}, day(2)).days == 3
    alive = streaks.daily_run({day(0), day(1), day(2)}, day(3))
    assert (alive.days, alive.active_today, alive.start) == (3, False, day(0))
    assert streaks.daily_run({day(0)}, day(5)).days == 0


def test_one_missed_day_is_repaired_once_per_seven_days():
    run = streaks.daily_run({day(0), day(1), day(3), day(4)}, day(4))
    assert (run.days, run.repaired, run.start) == (4, [day(2)], day(0))
    # A second gap within 7 days of the first breaks the run there.
    run = streaks.daily_run({day(0), day(2), day(4), day(5)}, day(5))
    assert (run.days, run.repaired) == (3, [day(3)])
    # Two missing days in a row are never bridged.
    assert streaks.daily_run({day(0), day(1), day(4)}, day(4)).days == 1
    # Gaps 7 days apart are both repaired.
    active = {day(n) for n in range(0, 16)} - {day(3), day(10)}
    assert streaks.daily_run(active, day(15)).repaired == [day(10), day(3)]


def test_an_outage_day_is_bridged_without_using_the_weekly_repair():
    run = streaks.daily_run({day(0), day(2), day(4), day(5)}, day(5), outage={day(1)})
    assert (run.days, run.repaired) == (4, [day(3)])


def test_weekly_streak_counts_weeks_with_any_practice():
    active = {day(0), day(9), day(16), day(24)}  # weeks 1, 2, 3, 4
    assert streaks.weekly_run(active, day(24)) == 4
    assert streaks.weekly_run(active, day(30)) == 4  # this week not over yet
    assert streaks.weekly_run(active - {day(9)}, day(24)) == 2


def _activity(user_id, at: datetime, reason="exercise_completed"):
    _db.session.add(XPTransaction(user_id=user_id, amount=10, reason=reason, reference_id=uuid.uuid4(),
                                  created_at=at))
    _db.session.commit()


def test_a_streak_across_midnight_in_jakarta(app, db):
    student = make_user("student")
    # 23:30 and 00:30 in Jakarta (UTC+7): two school days, though one UTC day.
    _activity(student.id, datetime(2026, 11, 2, 16, 30, tzinfo=timezone.utc))
    _activity(student.id, datetime(2026, 11, 2, 17, 30, tzinfo=timezone.utc))
    now = datetime(2026, 11, 3, 5, 0, tzinfo=timezone.utc)
    assert streaks.streak_for(student.id, now).days == 2
    # The same student in a UTC zone (their own setting) practised on one day only.
    leaderboards.set_preferences(student, opt_out=False, time_zone="UTC")
    assert streaks.streak_for(student.id, now).days == 1


def test_a_streak_with_a_repair_and_the_staff_repair_command(app, db):
    student = make_user("student")
    for n in (0, 1, 3, 5):  # day 4 repaired automatically, day 2 too close to it: the run is 3, 5...
        _activity(student.id, datetime.combine(day(n), datetime.min.time(), timezone.utc) + timedelta(hours=5))
    now = datetime.combine(day(5), datetime.min.time(), timezone.utc) + timedelta(hours=6)
    run = streaks.streak_for(student.id, now)
    assert (run.days, run.repaired) == (2, [day(4)])
    # ...until staff repair day 4 (the outage): 0, 1, [2], 3, [4], 5.
    result = app.test_cli_runner().invoke(args=["streak-repair", day(4).isoformat(), "--reason", "Listrik padam"])
    assert result.exit_code == 0, result.output
    run = streaks.streak_for(student.id, now)
    assert (run.days, run.repaired) == (4, [day(2)])


def test_a_run_longer_than_the_window_read_is_counted_whole(app, db, monkeypatch):
    monkeypatch.setattr(streaks, "WINDOW_DAYS", 14)  # the page reads 14 days, then the rest when a run goes on
    student = make_user("student")
    now = datetime(2026, 11, 30, 5, 0, tzinfo=timezone.utc)  # a Monday in Jakarta
    for n in range(40):
        _activity(student.id, now - timedelta(days=n))
    run = streaks.streak_for(student.id, now)
    assert (run.days, run.weeks, run.start) == (40, 7, (now - timedelta(days=39)).date())
    # Weekly practice only (Mondays, 10 weeks): the daily run is 1 day, the weekly one reaches past the window.
    weekly = make_user("student")
    for n in range(10):
        _activity(weekly.id, now - timedelta(days=7 * n))
    run = streaks.streak_for(weekly.id, now)
    assert (run.days, run.weeks) == (1, 10)


def test_the_streak_reads_the_same_statements_for_a_short_or_a_long_history(app, db, count_queries):
    student_id = make_user("student").id
    now = datetime(2026, 11, 30, 5, 0, tzinfo=timezone.utc)
    _activity(student_id, now)
    with count_queries() as short:
        assert streaks.streak_for(student_id, now).days == 1
    for n in range(30):  # a year ago: history the run cannot reach
        _activity(student_id, now - timedelta(days=365 + n))
    with count_queries() as long:
        assert streaks.streak_for(student_id, now).days == 1
    assert len(long) == len(short) == 2  # the zone, then the days and outage days in one statement


def test_only_activity_counts_for_streaks(app, db):
    student = make_user("student")
    _db.session.add(XPTransaction(user_id=student.id, amount=5, reason="bonus", note="Hadiah",
                                  reference_id=uuid.uuid4(), created_at=datetime(2026, 11, 2, 5, tzinfo=timezone.utc)))
    _db.session.commit()
    assert streaks.streak_for(student.id, datetime(2026, 11, 2, 6, tzinfo=timezone.utc)).days == 0


# --- criterion classes ------------------------------------------------------------

def _ledger(user_id, reason, n, **extra):
    for _ in range(n):
        _db.session.add(XPTransaction(user_id=user_id, amount=1, reason=reason, reference_id=uuid.uuid4(), **extra))
    _db.session.commit()


@pytest.mark.parametrize("spec, reason, need", [
    ({"type": "exercises_completed", "count": 3}, "exercise_completed", 3),
    ({"type": "lessons_completed", "count": 2}, "lesson_completed", 2),
    ({"type": "coding_passed", "count": 2}, "coding_passed", 2),
])
def test_ledger_count_criteria(db, spec, reason, need):
    student = make_user("student")
    _ledger(student.id, reason, need - 1)
    assert criterion_for(spec).progress(Facts(student.id)) == (need - 1, need)
    assert not criterion_for(spec).met(Facts(student.id))
    _ledger(student.id, reason, 1)
    assert criterion_for(spec).met(Facts(student.id))


def test_exercises_completed_counts_quizzes_and_coding_too(db):
    student = make_user("student")
    for reason in ("exercise_completed", "quiz_passed", "coding_passed"):
        _ledger(student.id, reason, 1)
    assert criterion_for({"type": "exercises_completed", "count": 3}).met(Facts(student.id))


def test_assignments_graded_counts_assignments_not_increases(db):
    student, task = make_user("student"), uuid.uuid4()
    _ledger(student.id, "assignment_graded", 2, source_id=task)
    criterion = criterion_for({"type": "assignments_graded", "count": 2})
    assert criterion.progress(Facts(student.id)) == (1, 2)


def test_perfect_quiz(db):
    student = make_user("student")
    course = make_course(lessons=1)
    quiz = exercise(course.sections[0].lessons[0], "quiz", QUIZ)
    _db.session.add(QuizAttempt(user_id=student.id, exercise_id=quiz.id, score=4, max_score=5, answers={}))
    _db.session.commit()
    criterion = criterion_for({"type": "perfect_quiz", "count": 1})
    assert not criterion.met(Facts(student.id))
    _db.session.add(QuizAttempt(user_id=student.id, exercise_id=quiz.id, score=5, max_score=5, answers={},
                                attempt_number=2))
    _db.session.commit()
    assert criterion.met(Facts(student.id))


def test_attendance_run_without_an_absence(db):
    school_class = make_class(total_meetings=10)
    enrollment = make_enrollment(school_class)
    for number, status in enumerate(["present", "late", "absent", "present", "present", "late"], start=1):
        _db.session.add(ClassAttendance(class_id=school_class.id, enrollment_id=enrollment.id,
                                        meeting_number=number, meeting_date=day(number), status=status))
    _db.session.commit()
    facts = Facts(enrollment.student_id)
    assert criterion_for({"type": "attendance_run", "meetings": 3}).met(facts)
    assert criterion_for({"type": "attendance_run", "meetings": 4}).progress(facts) == (3, 4)


def test_streak_criteria(db):
    student = make_user("student")
    now = datetime.now(timezone.utc)
    for back in range(3):
        _activity(student.id, now - timedelta(days=back))
    assert criterion_for({"type": "daily_streak", "days": 3}).met(Facts(student.id))
    assert not criterion_for({"type": "daily_streak", "days": 4}).met(Facts(student.id))
    assert criterion_for({"type": "weekly_streak", "weeks": 2}).progress(Facts(student.id))[1] == 2


def test_course_finished(db):
    school_class = make_class(course=make_course(lessons=2))
    enrollment = make_enrollment(school_class, lessons_completed=1)
    criterion = criterion_for({"type": "course_finished", "count": 1})
    assert not criterion.met(Facts(enrollment.student_id))
    _db.session.get(ClassEnrollment, enrollment.id).lessons_completed = 2
    _db.session.commit()
    assert criterion.met(Facts(enrollment.student_id))


def test_level_reached(db):
    student = make_user("student")
    _db.session.add(UserLevel(user_id=student.id, total_xp=479))
    _db.session.commit()
    assert criterion_for({"type": "level_reached", "level": 4}).met(Facts(student.id))
    assert not criterion_for({"type": "level_reached", "level": 5}).met(Facts(student.id))


def test_never_and_bad_criteria(db):
    student = make_user("student")
    assert not criterion_for({"type": "never"}).met(Facts(student.id))
    for bad in ({"type": "nope"}, {"type": "exercises_completed", "count": 0}, {"type": "daily_streak"}, None,
                {"type": "level_reached", "level": True}):
        with pytest.raises(InvalidCriteria):
            criterion_for(bad)
    assert set(REGISTRY) >= {"exercises_completed", "lessons_completed", "coding_passed", "perfect_quiz",
                             "attendance_run", "daily_streak", "weekly_streak", "assignments_graded",
                             "course_finished", "level_reached"}


# --- badges -------------------------------------------------------------------------

def test_the_catalog_has_at_least_12_badges_with_pictures_and_seeding_twice_changes_nothing(app, db):
    from pathlib import Path

    assert badges.seed_catalog() >= 12
    assert badges.seed_catalog() == _db.session.scalar(select(func.count()).select_from(Badge))
    static = Path(app.static_folder)
    for badge in _db.session.scalars(select(Badge)):
        picture = (static / badge.image_url).read_text()
        assert picture.startswith("<svg") and badge.rarity in ("common", "rare", "epic", "legendary")


def test_a_badge_is_earned_once_with_its_xp_and_one_notification(app, db):
    badges.seed_catalog()
    student = make_user("student")
    _ledger(student.id, "exercise_completed", 1)
    earned = badges.check_achievements(student.id)
    assert [b.slug for b in earned] == ["langkah-pertama"]
    assert badges.check_achievements(student.id) == []
    assert _db.session.scalar(select(func.count()).select_from(UserBadge)) == 1
    assert _db.session.scalars(select(XPTransaction.amount).where(XPTransaction.reason == "badge")).all() == [10]
    notes = _db.session.scalars(select(Notification).where(Notification.user_id == student.id)).all()
    assert [(n.type, n.title) for n in notes] == [("badge_earned", "New badge: First Step")]


def test_the_achievements_job_runs_after_an_award_commits(app, db):
    badges.seed_catalog()
    staff, student = make_user("staff"), make_user("student")
    xp.give_bonus(staff, student.id, 500, "Lomba")  # level 4: level 5 needs 742 XP
    assert _db.session.scalar(select(func.count()).select_from(UserBadge)) == 0
    xp.give_bonus(staff, student.id, 300, "Lomba lagi")
    held = _db.session.scalars(select(Badge.slug).join(UserBadge)).all()
    assert held == ["level-lima"]


def test_backfill_awards_what_was_earned_before_the_badges_existed(app, db):
    student = make_user("student")
    _ledger(student.id, "lesson_completed", 1)
    badges.seed_catalog()
    result = app.test_cli_runner().invoke(args=["badges-backfill"])
    assert "1 badges awarded." in result.output


def test_streak_milestones_are_awarded_once_per_run(app, db):
    student = make_user("student")
    now = datetime.now(timezone.utc)
    for back in range(3):
        _activity(student.id, now - timedelta(days=back))
    badges.check_achievements(student.id)
    badges.check_achievements(student.id)
    assert _db.session.scalars(select(XPTransaction.amount).where(
        XPTransaction.reason == "streak_milestone")).all() == [15]


def test_the_share_of_students_holding_a_badge(db):
    badges.seed_catalog()
    students = [make_user("student") for _ in range(4)]
    first = _db.session.scalar(select(Badge).where(Badge.slug == "langkah-pertama"))
    _db.session.add(UserBadge(user_id=students[0].id, badge_id=first.id))
    _db.session.commit()
    view = badges.badge_for(students[1], first.id)
    assert (view.holders, view.students, view.share_percent) == (1, 4, 25)
    assert view.progress == (0, 1)


# --- Open Badges 2.0 ----------------------------------------------------------------

def _held(db, shared: bool):
    badges.seed_catalog()
    student = make_user("student", email="siti@example.com")
    badge = _db.session.scalar(select(Badge).where(Badge.slug == "kode-pertama"))
    held = UserBadge(user_id=student.id, badge_id=badge.id)
    _db.session.add(held)
    _db.session.commit()
    if shared:
        badges.set_shared(student, held.id, True)
    return student, badge, _db.session.get(UserBadge, held.id)


def _is_iri(value) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def test_open_badges_documents_have_the_required_fields_and_types(app, db):
    import hashlib

    student, badge, held = _held(db, shared=True)
    with app.test_request_context():
        issuer = badges.issuer_document()
        badge_class = badges.badge_class_document(badge.id)
        assertion = badges.assertion_document(held.id)
    for document, kind in ((issuer, "Issuer"), (badge_class, "BadgeClass"), (assertion, "Assertion")):
        assert document["@context"] == "https://w3id.org/openbadges/v2"
        assert document["type"] == kind and _is_iri(document["id"])
    assert isinstance(issuer["name"], str) and _is_iri(issuer["url"])
    assert isinstance(badge_class["name"], str) and isinstance(badge_class["description"], str)
    assert _is_iri(badge_class["image"]) and badge_class["image"].endswith(".svg")
    assert _is_iri(badge_class["criteria"]["id"]) and isinstance(badge_class["criteria"]["narrative"], str)
    assert badge_class["issuer"] == issuer["id"]
    recipient = assertion["recipient"]
    assert recipient["type"] == "email" and recipient["hashed"] is True
    assert recipient["identity"] == "sha256$" + hashlib.sha256(
        ("siti@example.com" + recipient["salt"]).encode()).hexdigest()
    assert "siti@example.com" not in str(assertion)
    assert assertion["badge"] == badge_class["id"] and assertion["verification"] == {"type": "hosted"}
    datetime.fromisoformat(assertion["issuedOn"])
    # Stable: under PUBLIC_URL whatever host asked.
    assert assertion["id"].startswith(app.config["PUBLIC_URL"].rstrip("/") + "/ob/assertions/")


def test_an_unshared_badge_has_no_assertion(app, db):
    student, _badge, held = _held(db, shared=False)
    with app.test_request_context(), pytest.raises(DomainError):
        badges.assertion_document(held.id)
    other = make_user("student")
    with pytest.raises(badges.BadgeNotFound):
        badges.set_shared(other, held.id, True)
    badges.set_shared(student, held.id, True)
    badges.set_shared(student, held.id, False)
    with app.test_request_context(), pytest.raises(DomainError):
        badges.assertion_document(held.id)
