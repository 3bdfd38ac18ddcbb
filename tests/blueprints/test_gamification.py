"""Leaderboards that never shame, badge pages, profiles and the student's home, as people see them."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from babyowl.extensions import db as _db
from babyowl.models import (
    Badge, ClassLeaderboard, Exercise, ExerciseProgress, LessonUnlock, UserBadge, XPTransaction,
)
from babyowl.models.base import utcnow
from babyowl.services import announcements, attendance, badges, leaderboards, xp
from tests.factories import make_class, make_course, make_enrollment, make_user
from tests.helpers import signed_in_client, text

NAMES = ["Ayu Lestari", "Bima Pratama", "Citra Dewi", "Dodi Saputra", "Eka Wijaya", "Fajar Nugroho"]


@pytest.fixture
def school(db):
    """A class of six with XP 60, 50, 40, 30, 20, 10 (Ayu first), and its instructor."""
    teacher = make_user("instructor", full_name="Guru Budi")
    school_class = make_class(course=make_course(lessons=2), instructor=teacher, name="Python Sabtu")
    staff = make_user("staff")
    students = []
    for index, name in enumerate(NAMES):
        student = make_user("student", full_name=name)
        make_enrollment(school_class, student)
        xp.give_bonus(staff, student.id, 60 - 10 * index, "Tugas ekstra", class_id=school_class.id)
        students.append(student)
    return {"class": school_class, "teacher": teacher, "staff": staff, "students": students}


def _set_mode(school, mode, neighbours=1):
    _db.session.merge(ClassLeaderboard(class_id=school["class"].id, mode=mode, neighbours=neighbours))
    _db.session.commit()


def _board(app, user, school, **params):
    response = signed_in_client(app, user).get(f"/leaderboard/{school['class'].id}", query_string=params)
    assert response.status_code == 200
    return text(response)


def _others(viewer_name):
    return [n for n in NAMES if n != viewer_name]


def test_the_board_is_off_by_default_for_students_but_staff_see_it(app, school):
    page = _board(app, school["students"][2], school)
    assert "The leaderboard of this class is off." in page
    assert not any(name in page for name in _others("Citra Dewi"))
    staff_page = _board(app, school["staff"], school)
    assert all(name in staff_page for name in NAMES)


def test_anonymous_mode_never_puts_another_students_name_in_the_page(app, school):
    _set_mode(school, "anonymous")
    page = _board(app, school["students"][2], school)
    assert not any(name in page for name in _others("Citra Dewi"))
    assert "Student 1" in page and "Student 6" in page and "Citra Dewi" in page
    board = page[page.index('<ol class="leaderboard">'):]
    assert board.index("Student 2") < board.index("Citra Dewi") < board.index("Student 4")
    # No profile link leaks who is behind a number.
    for student in school["students"]:
        if student.full_name != "Citra Dewi":
            assert str(student.id) not in page


def test_neighbours_mode_shows_only_the_places_around_the_student(app, school):
    _set_mode(school, "neighbours", neighbours=1)
    page = _board(app, school["students"][2], school)
    assert not any(name in page for name in _others("Citra Dewi"))
    assert "Student 2" in page and "Student 4" in page
    assert "Student 1" not in page and "Student 5" not in page and "60 XP" not in page


def test_full_mode_shows_names_and_the_instructor_always_does(app, school):
    _set_mode(school, "full")
    page = _board(app, school["students"][5], school)
    assert all(name in page for name in NAMES)
    _set_mode(school, "anonymous")
    assert all(name in _board(app, school["teacher"], school) for name in NAMES)


def test_a_student_who_opts_out_is_never_shown_to_classmates(app, school):
    _set_mode(school, "full")
    bima = school["students"][1]
    client = signed_in_client(app, bima)
    response = client.post("/leaderboard/preferences", data={"opt_out": "y", "time_zone": "",
                                                             "class_id": str(school["class"].id)})
    assert response.status_code == 303
    assert "Bima Pratama" not in _board(app, school["students"][0], school)
    own = _board(app, bima, school)
    assert "Bima Pratama" in own and "You are hidden from your classmates." in own
    staff_page = _board(app, school["staff"], school)
    assert "Bima Pratama" in staff_page and "hidden from classmates" in staff_page


def test_a_board_of_a_class_not_ones_own_does_not_exist(app, school):
    outsider, other_teacher = make_user("student"), make_user("instructor")
    for user in (outsider, other_teacher):
        assert signed_in_client(app, user).get(f"/leaderboard/{school['class'].id}").status_code == 404
    assert signed_in_client(app, outsider).get(f"/leaderboard/{uuid.uuid4()}").status_code == 404


def test_the_weekly_view_counts_this_weeks_xp(app, school):
    from datetime import timedelta

    from babyowl.models.base import utcnow

    _set_mode(school, "full")
    old = _db.session.scalars(select(XPTransaction).where(XPTransaction.user_id == school["students"][0].id)).one()
    old.created_at = utcnow() - timedelta(days=8)
    _db.session.commit()
    page = _board(app, school["staff"], school, period="week")
    board = page[page.index('<ol class="leaderboard">'):]
    assert "60 XP" not in board and board.index("Bima Pratama") < board.index("Ayu Lestari")
    assert "60 XP" in _board(app, school["staff"], school, period="all")


def test_the_instructor_sets_the_mode(app, school):
    client = signed_in_client(app, school["teacher"])
    response = client.post(f"/leaderboard/{school['class'].id}/settings", data={"mode": "neighbours",
                                                                               "neighbours": "3"})
    assert response.status_code == 303
    assert (_db.session.get(ClassLeaderboard, school["class"].id).mode, ) == ("neighbours", )
    bad = client.post(f"/leaderboard/{school['class'].id}/settings", data={"mode": "public", "neighbours": "3"})
    assert bad.status_code == 422
    stranger = signed_in_client(app, make_user("instructor"))
    assert stranger.post(f"/leaderboard/{school['class'].id}/settings",
                         data={"mode": "full", "neighbours": "2"}).status_code == 404


def test_the_leaderboard_page_runs_the_same_statements_for_6_or_16_students(app, school, count_queries):
    def statements():
        _db.session.expire_all()
        with count_queries() as seen:
            _board(app, school["staff"], school)
        return len(seen)

    before = statements()
    for index in range(10):
        student = make_user("student")
        make_enrollment(school["class"], student)
        xp.give_bonus(school["staff"], student.id, 5 + index, "Kuis", class_id=school["class"].id)
    assert statements() == before


# --- Redis: the live board equals the one rebuilt from the ledger --------------------

def test_the_rebuilt_board_equals_the_live_one(make_app, db, redis_url, redis_db):
    app = make_app(LEADERBOARD_REDIS_URL=redis_url)
    with app.app_context():
        school_class = make_class(course=make_course(lessons=1), total_meetings=5)
        staff = make_user("staff")
        enrollments = [make_enrollment(school_class) for _ in range(4)]
        assert leaderboards.scores(school_class.id) == {}  # the first read builds the (empty) board
        assert redis_db.exists(f"lb:{school_class.id}:built")
        for index, enrollment in enumerate(enrollments):
            xp.give_bonus(staff, enrollment.student_id, 10 * (index + 1), "Aktif", class_id=school_class.id)
            attendance.mark(staff, school_class, enrollment_id=enrollment.id, meeting_number=1,
                            status="present" if index % 2 else "late")
        xp.give_bonus(staff, enrollments[0].student_id, -5, "Koreksi", class_id=school_class.id)
        live = {member: score for member, score in redis_db.zrange(f"lb:{school_class.id}:all", 0, -1,
                                                                    withscores=True)}
        live_week = leaderboards.scores(school_class.id, "week")
        assert len(live) == 4
        assert leaderboards.rebuild(school_class.id)
        rebuilt = {member: score for member, score in redis_db.zrange(f"lb:{school_class.id}:all", 0, -1,
                                                                       withscores=True)}
        assert rebuilt == live
        assert leaderboards.scores(school_class.id, "week") == live_week
        assert leaderboards.sql_scores(school_class.id) == {uuid.UUID(m.decode()): int(s) for m, s in live.items()}
        assert sorted(leaderboards.sql_scores(school_class.id).values()) == [10, 30, 35, 50]


def test_without_redis_the_board_is_a_sql_aggregate(app, school):
    assert app.config["REDIS_URL"] is None
    scores = leaderboards.scores(school["class"].id)
    assert sorted(scores.values(), reverse=True) == [60, 50, 40, 30, 20, 10]


# --- badges, Open Badges, profiles, the student's home ---------------------------------

def test_the_badge_pages_show_the_share_of_students(app, school):
    badges.seed_catalog()
    first = _db.session.scalar(select(Badge).where(Badge.slug == "langkah-pertama"))
    for student in school["students"][:3]:
        _db.session.add(UserBadge(user_id=student.id, badge_id=first.id))
    _db.session.commit()
    client = signed_in_client(app, school["students"][0])
    listing = text(client.get("/badges"))
    assert "First Step" in listing and "50% of students have it" in listing
    detail = text(client.get(f"/badges/{first.id}"))
    assert "3 of 6 students have it (50%)." in detail and "Share as an Open Badge" in detail
    assert client.get(f"/badges/{uuid.uuid4()}").status_code == 404


def test_a_student_shares_a_badge_and_its_assertion_appears(app, school):
    badges.seed_catalog()
    ayu = school["students"][0]
    first = _db.session.scalar(select(Badge).where(Badge.slug == "langkah-pertama"))
    held = UserBadge(user_id=ayu.id, badge_id=first.id)
    _db.session.add(held)
    _db.session.commit()
    anonymous = app.test_client()
    assert anonymous.get(f"/ob/assertions/{held.id}").status_code == 404
    client = signed_in_client(app, ayu)
    assert signed_in_client(app, school["students"][1]).post(f"/my-badges/{held.id}/share",
                                                             data={"shared": "1"}).status_code in (303, 404)
    assert anonymous.get(f"/ob/assertions/{held.id}").status_code == 404
    assert client.post(f"/my-badges/{held.id}/share", data={"shared": "1"}).status_code == 303
    response = anonymous.get(f"/ob/assertions/{held.id}")
    assert response.status_code == 200 and response.mimetype == "application/ld+json"
    document = json.loads(response.get_data())
    assert document["type"] == "Assertion" and ayu.email not in response.get_data(as_text=True)
    badge_class = json.loads(anonymous.get(f"/ob/badges/{first.id}").get_data())
    assert badge_class["type"] == "BadgeClass" and document["badge"] == badge_class["id"]
    assert json.loads(anonymous.get("/ob/issuer").get_data())["type"] == "Issuer"


def test_profiles_classmates_see_level_and_badges_only_instructors_see_history(app, school):
    ayu, bima = school["students"][:2]
    page = text(signed_in_client(app, bima).get(f"/users/{ayu.id}"))
    assert "Ayu Lestari" in page and "Level 1" in page and "Badges" in page
    assert "XP history" not in page and "Tugas ekstra" not in page and ayu.email not in page
    teacher_page = text(signed_in_client(app, school["teacher"]).get(f"/users/{ayu.id}"))
    assert "XP history" in teacher_page and "Tugas ekstra" in teacher_page
    assert signed_in_client(app, make_user("student")).get(f"/users/{ayu.id}").status_code == 404
    assert signed_in_client(app, make_user("instructor")).get(f"/users/{ayu.id}").status_code == 404


def test_staff_give_bonus_xp_from_the_profile(app, school):
    ayu = school["students"][0]
    client = signed_in_client(app, school["staff"])
    page = text(client.get(f"/users/{ayu.id}"))
    assert "Bonus XP" in page
    response = client.post(f"/users/{ayu.id}/xp", data={"amount": "25", "note": "Membantu teman"})
    assert response.status_code == 303
    refused = client.post(f"/users/{ayu.id}/xp", data={"amount": "-999", "note": "Terlalu"}, follow_redirects=True)
    assert "The student has only 85 XP to remove." in text(refused)
    _db.session.expire_all()
    assert xp.standing(ayu.id).total_xp == 85
    assert signed_in_client(app, school["teacher"]).post(f"/users/{ayu.id}/xp",
                                                         data={"amount": "5", "note": "x"}).status_code == 403


def test_the_students_home_shows_next_lesson_level_streak_badges_and_credits(app, school):
    badges.seed_catalog()
    ayu = school["students"][0]
    lesson = school["class"].course.sections[0].lessons[0]
    _db.session.add(LessonUnlock(class_id=school["class"].id, lesson_id=lesson.id))
    first = _db.session.scalar(select(Badge).where(Badge.slug == "langkah-pertama"))
    _db.session.add(UserBadge(user_id=ayu.id, badge_id=first.id))
    _db.session.commit()
    page = text(signed_in_client(app, ayu).get("/dashboard"))
    assert "Next lesson" in page and "Lesson 1" in page and "Continue" in page
    assert "Level 1" in page and "60 XP" in page and "60 XP to level 2" in page
    assert "First Step" in page and "Credits remaining: 10" in page
    assert "No streak yet" in page


def test_the_students_home_counts_lessons_and_offers_the_first_unlocked_one_not_completed(app, school):
    ayu = school["students"][0]
    course = make_course(lessons=4)
    first, second, third, fourth = course.sections[0].lessons
    _db.session.add(Exercise(lesson=third, title="Kuis", type="material", content={"format": "markdown", "body": "x"},
                             order_index=1))
    newer = make_class(course=course, name="Kelas Baru")
    make_enrollment(newer, ayu, enrolled_at=utcnow(), credits_used=4)
    for lesson in (first, third):  # the second and the fourth stay locked
        _db.session.add(LessonUnlock(class_id=newer.id, lesson_id=lesson.id))
    # Done: the first lesson and the (locked) fourth; the third has one of its two exercises done.
    for exercise in (first.exercises[0], third.exercises[0], fourth.exercises[0]):
        _db.session.add(ExerciseProgress(user_id=ayu.id, exercise_id=exercise.id, completed=True))
    empty = make_class(course=make_course(lessons=0), name="Kelas Kosong")
    make_enrollment(empty, ayu, enrolled_at=utcnow() - timedelta(days=400))
    make_enrollment(make_class(course=course, name="Kelas Lama"), ayu, status="withdrawn")
    _db.session.commit()

    page = text(signed_in_client(app, ayu).get("/dashboard"))
    step = page[page.index("Next lesson"):page.index("Recent badges")]
    assert "Lesson 3" in step and "Kelas Baru" in step
    assert "Lessons completed: 2 · Lessons open: 2" in page and "Continue: Lesson 3" in page
    assert "Lessons completed: 0 · Lessons open: 0" in page and "Continue: Lesson 1" not in page
    assert "Credits remaining: 6" in page and "Kelas Lama" not in page
    # Newest enrollment first: the new class, Python Sabtu, then the empty course's class.
    assert page.index("Kelas Baru") < page.index("Python Sabtu") < page.index("Kelas Kosong")


def test_the_chooser_and_a_student_with_one_class_goes_straight_to_its_board(app, school):
    _set_mode(school, "anonymous")
    page = text(signed_in_client(app, school["students"][0]).get("/leaderboard"))
    assert "Python Sabtu" in page and "Student 2" in page
    other = make_class(name="Kelas Lain", instructor=school["teacher"])
    chooser = text(signed_in_client(app, school["teacher"]).get("/leaderboard"))
    assert "Python Sabtu" in chooser and "Kelas Lain" in chooser and "Ayu Lestari" not in chooser
    assert other.name not in text(signed_in_client(app, school["students"][0]).get("/leaderboard"))


def test_the_settings_form_answers_htmx_with_the_board_block(app, school):
    client = signed_in_client(app, school["teacher"])
    response = client.post(f"/leaderboard/{school['class'].id}/settings", data={"mode": "full", "neighbours": "2"},
                           headers={"HX-Request": "true"})
    page = text(response)
    assert response.status_code == 200 and "<html" not in page and "Ayu Lestari" in page
    bad = client.post(f"/leaderboard/{school['class'].id}/settings", data={"mode": "full", "neighbours": "99"},
                      headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "Enter a whole number from 1 to 10." in text(bad)


def test_the_badge_email_is_sent_in_the_students_language(make_app, db, tmp_path):
    from tests.helpers import mails

    app = make_app(MAIL_BACKEND="file", MAIL_FILE_DIR=str(tmp_path / "out"))
    with app.app_context():
        badges.seed_catalog()
        staff, student = make_user("staff"), make_user("student", language="id")
        _db.session.add(XPTransaction(user_id=student.id, amount=10, reason="exercise_completed",
                                      reference_id=uuid.uuid4()))
        _db.session.commit()
        xp.give_bonus(staff, student.id, 5, "Semangat")  # any award queues the check (inline without Redis)
        address = student.email
    sent = mails(tmp_path / "out")
    assert len(sent) == 1 and sent[0]["To"] == address
    assert "Lencana baru: Langkah Pertama" in sent[0]["Subject"]


def test_the_students_home_runs_the_same_statements_with_more_badges_classes_and_announcements(app, school,
                                                                                              count_queries):
    badges.seed_catalog()
    ayu = school["students"][0]
    client = signed_in_client(app, ayu)

    def statements():
        _db.session.expire_all()
        with count_queries() as seen:
            assert client.get("/dashboard").status_code == 200
        return len(seen)

    before = statements()
    held = list(_db.session.scalars(select(Badge).order_by(Badge.slug).limit(5)))
    for hours_ago, badge in enumerate(held):
        _db.session.add(UserBadge(user_id=ayu.id, badge_id=badge.id, earned_at=utcnow() - timedelta(hours=hours_ago)))
    second = make_class(course=make_course(lessons=3), name="Kelas Dua")
    make_enrollment(second, ayu)
    _db.session.commit()
    sent = [announcements.create_announcement(school["teacher"], school["class"], title=f"Kabar {n}", content="x")
            for n in range(7)]
    announcements.open_announcement(ayu, sent[5].id)
    assert statements() == before

    page = text(client.get("/dashboard"))
    newest_badges = [badges.name_of(badge) for badge in held[:3]]
    assert [page.index(name) for name in newest_badges] == sorted(page.index(name) for name in newest_badges)
    assert all(badges.name_of(badge) not in page for badge in held[3:])
    shown = [f"Kabar {n}" for n in (6, 5, 4, 3, 2)]  # the five newest, newest first; Kabar 5 read
    assert [page.index(title) for title in shown] == sorted(page.index(title) for title in shown)
    assert "Kabar 1" not in page and "Kabar 0" not in page
    assert page.count('class="badge unread-marker"') == 4
    assert "Kelas Dua" in page and "Python Sabtu" in page


def _ledger(user_id, moments):
    _db.session.execute(sa.insert(XPTransaction), [
        {"id": uuid.uuid4(), "user_id": user_id, "amount": 5, "reason": "exercise_completed",
         "reference_id": uuid.uuid4(), "created_at": moment} for moment in moments])
    _db.session.commit()


def test_the_students_home_runs_the_same_statements_with_10_or_500_ledger_rows(app, school, count_queries):
    ayu = school["students"][0]
    client = signed_in_client(app, ayu)
    now = datetime.now(timezone.utc)

    def visit():
        _db.session.expire_all()
        with count_queries() as seen:
            page = text(client.get("/dashboard"))
        return page, len(seen)

    _ledger(ayu.id, [now - timedelta(days=n) for n in range(10)])  # ten days in a row, today the last
    page, before = visit()
    assert "10 days in a row" in page
    # Months of older history, three weeks before the run began: 490 more rows, ~3 a day.
    _ledger(ayu.id, [now - timedelta(days=31 + n // 3, hours=n % 3) for n in range(490)])
    page, after = visit()
    assert "10 days in a row" in page and after == before
    assert before == 2  # the session; the cards, level, streak days, badges and announcements in one


def test_the_students_home_counts_streak_days_in_the_students_own_time_zone(app, school):
    from zoneinfo import ZoneInfo

    from babyowl.models import UserLevel
    from babyowl.services import streaks

    ayu = school["students"][0]
    _db.session.execute(sa.update(UserLevel).where(UserLevel.user_id == ayu.id)
                        .values(time_zone="America/Los_Angeles"))
    _db.session.commit()
    los_angeles = ZoneInfo("America/Los_Angeles")
    today = datetime.now(los_angeles).date()
    # Three evenings and a night in a row in Los Angeles; in Jakarta (15 hours ahead) only two days.
    _ledger(ayu.id, [datetime.combine(today - timedelta(days=days), at, los_angeles)
                     for days, at in ((2, time(20)), (1, time(20)), (0, time(0, 30)))])
    assert streaks.streak_for(ayu.id, zone=ZoneInfo(app.config["SCHOOL_TIMEZONE"])).days == 2
    page = text(signed_in_client(app, ayu).get("/dashboard"))
    assert "3 days in a row" in page


def test_the_cli_seeds_badges_and_rebuilds_boards(app, db):
    runner = app.test_cli_runner()
    assert "13 badges in the catalog." in runner.invoke(args=["badges-seed"]).output
    assert "0 class leaderboards rebuilt." in runner.invoke(args=["leaderboards-rebuild"]).output  # no Redis here
