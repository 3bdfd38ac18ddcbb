"""The XP ledger: awarded inside the use cases that complete things, once, whatever is sent twice or in parallel."""
from __future__ import annotations

import threading
import uuid
from datetime import date

import pytest
from sqlalchemy import func, select

from babyowl.extensions import db as _db
from babyowl.levels import level_for, thresholds
from babyowl.models import AssignmentSubmission, CodingSubmission, UserLevel, XPTransaction
from babyowl.services import assignments, attendance, grading, learning, xp
from babyowl.services.errors import InvalidInput, NotAllowed
from babyowl.transactions import unit_of_work, use_case
from tests.factories import make_user
from tests.grading.test_grader import case, coding_exercise
from tests.learning_data import MATERIAL, QUIZ, exercise, make_setup
from tests.helpers import signed_in_client

PASSING = {"q1": ["a"], "q2": ["a", "c"], "q3": ["false"], "q4": ["print"]}


def ledger(user_id, reason=None) -> list[int]:
    query = select(XPTransaction.amount).where(XPTransaction.user_id == user_id)
    if reason:
        query = query.where(XPTransaction.reason == reason)
    return list(_db.session.scalars(query.order_by(XPTransaction.created_at)))


def total(user_id) -> int:
    _db.session.expire_all()
    return _db.session.scalar(select(UserLevel.total_xp).where(UserLevel.user_id == user_id)) or 0


# --- levels ------------------------------------------------------------------

def test_level_thresholds_follow_level_ups_snowballing_curve():
    assert thresholds(6) == [0, 120, 276, 479, 742, 1085]
    assert level_for(0).level == 1 and level_for(119).level == 1 and level_for(120).level == 2
    info = level_for(300)
    assert (info.level, info.floor, info.next_at, info.to_next, info.percent) == (3, 276, 479, 179, 11)
    # A flatter curve: the same XP is a different level, no row touched.
    assert level_for(300, base=100, coef=1.0).level == 4


def test_the_curve_comes_from_settings(app, db):
    app.config.update(XP_LEVEL_BASE=100, XP_LEVEL_COEF=1.0)
    assert xp.level_info(300).level == 4


# --- completions: one row each, whatever is sent twice ---------------------------

@pytest.fixture
def setup(db):
    return make_setup(unlocked=2)


def test_a_material_marked_done_twice_earns_once_and_its_lesson_once(db, setup):
    material = exercise(setup.lessons[0], "material", MATERIAL)
    place = learning.place_for(setup.student, setup.school_class.id, material.id)
    learning.mark_done(setup.student, place)
    learning.mark_done(setup.student, learning.place_for(setup.student, setup.school_class.id, material.id))
    assert ledger(setup.student.id, "exercise_completed") == [10]
    assert ledger(setup.student.id, "lesson_completed") == [30]
    rows = _db.session.scalars(select(XPTransaction).where(XPTransaction.user_id == setup.student.id)).all()
    assert {r.class_id for r in rows} == {setup.school_class.id}
    assert total(setup.student.id) == 40


def test_a_quiz_earns_once_by_the_first_passing_score(db, setup):
    quiz = exercise(setup.lessons[0], "quiz", {**QUIZ, "attemptsAllowed": None})
    place = lambda: learning.place_for(setup.student, setup.school_class.id, quiz.id)  # noqa: E731
    learning.submit_quiz(setup.student, place(), {"q1": ["b"], "q2": ["a"], "q3": ["true"], "q4": ["x"]})
    assert ledger(setup.student.id, "quiz_passed") == []  # failed: nothing
    learning.submit_quiz(setup.student, place(), {**PASSING, "q4": ["nope"]})  # 4 of 5 points: passed
    learning.submit_quiz(setup.student, place(), PASSING)  # a perfect retry earns nothing more
    assert ledger(setup.student.id, "quiz_passed") == [16]


def test_ten_parallel_quiz_passes_write_one_row(app, db, setup):
    quiz = exercise(setup.lessons[0], "quiz", {**QUIZ, "attemptsAllowed": None})
    clients = [signed_in_client(app, setup.student) for _ in range(10)]
    barrier, statuses, url = threading.Barrier(10), [], setup.url(quiz, "quiz")

    def take(client):
        barrier.wait()
        statuses.append(client.post(url, data={f"q-{k}": v for k, v in PASSING.items()}).status_code)

    threads = [threading.Thread(target=take, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(s < 500 for s in statuses), statuses
    assert ledger(setup.student.id, "quiz_passed") == [20]
    assert total(setup.student.id) == 20 + 30  # the quiz, and its lesson (the quiz is its only exercise)


def test_ten_parallel_completions_of_a_material_write_one_row(app, db, setup):
    material = exercise(setup.lessons[0], "material", MATERIAL)
    clients = [signed_in_client(app, setup.student) for _ in range(10)]
    barrier, statuses, url = threading.Barrier(10), [], setup.url(material, "complete")

    def complete(client):
        barrier.wait()
        statuses.append(client.post(url).status_code)

    threads = [threading.Thread(target=complete, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(s < 500 for s in statuses), statuses
    assert ledger(setup.student.id, "exercise_completed") == [10]
    assert ledger(setup.student.id, "lesson_completed") == [30]
    assert total(setup.student.id) == 40


def test_ten_parallel_awards_of_one_key_give_one_row_and_a_true_cache(app, db):
    student_id = make_user("student").id
    key = uuid.uuid4()
    barrier, results = threading.Barrier(10), []

    @use_case
    def give():
        return xp.award(student_id, "exercise_completed", key, 10)

    def run():
        with app.app_context():
            barrier.wait()
            results.append(give())

    threads = [threading.Thread(target=run) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 9 + [True]
    assert ledger(student_id) == [10] and total(student_id) == 10


def _passing_results():
    return [{"passed": True, "points": 10, "maxPoints": 10, "output": "8", "hidden": False, "error": None,
             "status": "ok"}]


def test_a_coding_exercise_earns_on_its_first_pass_only(db, setup):
    coding = coding_exercise(setup.lessons[0], [case("double", stdin="4\n", expected="8")])
    first = grading.submit(setup.student, coding, "print(8)")
    second = grading.submit(setup.student, coding, "print(8)")
    grading.store(first.id, _passing_results(), 0.1)
    grading.store(first.id, _passing_results(), 0.1)  # a doubled job stores nothing
    grading.store(second.id, _passing_results(), 0.1)  # passing again earns nothing more
    assert ledger(setup.student.id, "coding_passed") == [25]
    assert _db.session.scalar(select(func.count()).select_from(CodingSubmission).where(
        CodingSubmission.passed.is_(True))) == 2


def test_a_regrade_from_40_to_25_to_60_awards_40_then_0_then_20(db, setup):
    task = exercise(setup.lessons[0], "assignment", {"instructionsSource": "Tulis program.", "submissionTypes": [
        "text"], "allowedFileTypes": [], "maxFileSizeMb": 1, "maxGrade": 100, "dueOffsetDays": None})
    place = learning.place_for(setup.student, setup.school_class.id, task.id)
    submission = assignments.submit(setup.student, place, kind="text", text="print('halo')")
    for grade in (40, 40, 25, 60, 60):  # the same grade twice (a double click) counts once
        submission = _db.session.get(AssignmentSubmission, submission.id)
        assignments.grade(setup.teacher, submission, status="graded", grade_value=grade, feedback=None)
    assert ledger(setup.student.id, "assignment_graded") == [40, 20]
    assert total(setup.student.id) == 60 + 30  # and the lesson, completed by the grade


def test_an_ungraded_return_earns_nothing(db, setup):
    task = exercise(setup.lessons[0], "assignment", {"instructionsSource": "Tulis.", "submissionTypes": ["text"],
                                                     "allowedFileTypes": [], "maxFileSizeMb": 1, "maxGrade": 100,
                                                     "dueOffsetDays": None})
    place = learning.place_for(setup.student, setup.school_class.id, task.id)
    submission = assignments.submit(setup.student, place, kind="text", text="x")
    assignments.grade(setup.teacher, submission, status="returned", grade_value=None, feedback="Tambah komentar.")
    assert ledger(setup.student.id, "assignment_graded") == []


# --- attendance ------------------------------------------------------------------

@pytest.fixture
def meeting_setup(db):
    return make_setup(unlocked=0)


def test_attendance_earns_once_per_mark_and_a_correction_to_absent_keeps_it(db, meeting_setup):
    setup = meeting_setup
    mark = lambda status: attendance.mark(setup.teacher, setup.school_class,  # noqa: E731
                                          enrollment_id=setup.enrollment.id, meeting_number=1, status=status)
    mark("present")
    mark("present")
    assert ledger(setup.student.id, "attendance") == [10]
    mark("absent")
    mark("late")  # present again (late): the same mark, no second award
    assert ledger(setup.student.id, "attendance") == [10]
    attendance.mark(setup.teacher, setup.school_class, enrollment_id=setup.enrollment.id, meeting_number=2,
                    status="late")
    assert ledger(setup.student.id, "attendance") == [10, 5]


def test_the_attendance_tap_adds_one_statement_and_no_select(db, meeting_setup, count_queries):
    setup = meeting_setup
    attendance.mark(setup.teacher, setup.school_class, enrollment_id=setup.enrollment.id, meeting_number=1,
                    status="absent")
    _db.session.expire_all()
    with count_queries() as statements:
        attendance.mark(setup.teacher, setup.school_class, enrollment_id=setup.enrollment.id, meeting_number=1,
                        status="present")
    xp_statements = [s for s in statements if "xp_transactions" in s or "user_levels" in s]
    # The ledger row and the cache upsert in one statement (the rest is the achievements job, inline here).
    tap = [s for s in xp_statements if s.lstrip().upper().startswith(("INSERT", "WITH"))]
    assert len(tap) == 1 and "INSERT INTO xp_transactions" in tap[0] and "INSERT INTO user_levels" in tap[0]
    assert ledger(setup.student.id, "attendance") == [10]
    assert total(setup.student.id) == sum(ledger(setup.student.id)) > 0


def test_an_award_whose_key_is_taken_leaves_the_level_cache_alone(db):
    student = make_user("student")
    reference = uuid.uuid4()
    with unit_of_work():
        assert xp.award(student.id, "exercise_completed", reference, 7) is True
        assert xp.award(student.id, "exercise_completed", reference, 7) is False
        assert xp.award(student.id, "lesson_completed", reference, 3) is True
    assert total(student.id) == 10 and ledger(student.id, "exercise_completed") == [7]


# --- staff bonus ------------------------------------------------------------------

def test_staff_give_and_remove_bonus_xp_with_a_reason(db):
    staff, student = make_user("staff"), make_user("student")
    xp.give_bonus(staff, student.id, 50, "Membantu teman")
    row = xp.give_bonus(staff, student.id, -30, "Salah catat")
    assert (row.amount, row.note, row.awarded_by) == (-30, "Salah catat", staff.id)
    assert total(student.id) == 20
    with pytest.raises(InvalidInput, match="only 20 XP"):
        xp.give_bonus(staff, student.id, -21, "Terlalu banyak")
    with pytest.raises(InvalidInput, match="why"):
        xp.give_bonus(staff, student.id, 5, "  ")
    with pytest.raises(InvalidInput):
        xp.give_bonus(staff, student.id, 0, "Nol")
    with pytest.raises(NotAllowed):
        xp.give_bonus(make_user("instructor"), student.id, 5, "Bukan staf")
    assert total(student.id) == 20 and ledger(student.id) == [50, -30]


def test_the_cache_is_rebuilt_from_the_ledger(app, db):
    staff, student = make_user("staff"), make_user("student")
    xp.give_bonus(staff, student.id, 70, "Juara kelas")
    level = _db.session.scalar(select(UserLevel).where(UserLevel.user_id == student.id))
    level.total_xp = 3
    _db.session.commit()
    result = app.test_cli_runner().invoke(args=["xp-rebuild"])
    assert "1 levels corrected" in result.output
    assert total(student.id) == 70


def test_a_grade_increase_key_is_stable():
    exercise_id = uuid.uuid4()
    assert xp.grade_increment_key(exercise_id, 40) == xp.grade_increment_key(exercise_id, 40)
    assert xp.grade_increment_key(exercise_id, 40) != xp.grade_increment_key(exercise_id, 60)


def test_a_repair_day_is_recorded_once(app, db):
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["streak-repair", "2026-11-30", "--reason", "Server mati"])
        assert "Streaks repaired for 2026-11-30." in result.output
    from babyowl.models import StreakRepair

    assert [r.day for r in _db.session.scalars(select(StreakRepair))] == [date(2026, 11, 30)]



# --- privacy: XP, level, badges and leaderboard choices go with the person --------------

def test_the_export_holds_xp_level_badges_and_leaderboard_choices(db):
    from babyowl.services import badges, leaderboards, privacy
    from tests.services.test_privacy import read_export

    staff, student = make_user("staff"), make_user("student")
    badges.seed_catalog()
    xp.give_bonus(staff, student.id, 130, "Juara lomba")
    leaderboards.set_preferences(student, opt_out=True, time_zone="Asia/Makassar")
    data, _bundle = read_export(privacy.export_user_data(student))
    assert data["level"] == {"total_xp": 130, "level": 2, "leaderboard_opt_out": True, "time_zone": "Asia/Makassar"}
    assert [x["note"] for x in data["xp_transactions"]] == ["Juara lomba"]
    assert data["badges"] == []  # a bonus earns no badge here: none of the criteria is met


def test_erasure_removes_the_ledger_and_the_redis_boards(make_app, db, redis_url, redis_db):
    from babyowl.services import leaderboards, privacy
    from tests.factories import make_class, make_enrollment

    app = make_app(LEADERBOARD_REDIS_URL=redis_url)
    with app.app_context():
        school_class = make_class()
        staff, admin = make_user("staff"), make_user("super_admin")
        enrollment = make_enrollment(school_class)
        leaderboards.scores(school_class.id)  # built
        xp.give_bonus(staff, enrollment.student_id, 40, "Aktif", class_id=school_class.id)
        assert redis_db.zscore(f"lb:{school_class.id}:all", str(enrollment.student_id)) == 40
        privacy.erase_user(admin, _db.session.get(type(staff), enrollment.student_id))
        assert redis_db.zscore(f"lb:{school_class.id}:all", str(enrollment.student_id)) is None
        assert ledger(enrollment.student_id) == [] and total(enrollment.student_id) == 0


def _in_parallel(app, n, work):
    barrier, errors = threading.Barrier(n), []

    def run(index):
        with app.app_context():
            barrier.wait()
            try:
                work(index)
            except Exception as exc:  # a refused duplicate is fine; record anything else
                errors.append(exc)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_ten_parallel_gradings_of_passing_code_write_one_row(app, db, setup):
    coding = coding_exercise(setup.lessons[0], [case("double", stdin="4\n", expected="8")])
    ids = [grading.submit(setup.student, coding, "print(8)").id for _ in range(10)]
    errors = _in_parallel(app, 10, lambda i: grading.store(ids[i], _passing_results(), 0.1))
    assert errors == []
    assert ledger(setup.student.id, "coding_passed") == [25]


def test_ten_parallel_grades_of_60_write_one_row(app, db, setup):
    task = exercise(setup.lessons[0], "assignment", {"instructionsSource": "Tulis.", "submissionTypes": ["text"],
                                                     "allowedFileTypes": [], "maxFileSizeMb": 1, "maxGrade": 100,
                                                     "dueOffsetDays": None})
    place = learning.place_for(setup.student, setup.school_class.id, task.id)
    submission_id = assignments.submit(setup.student, place, kind="text", text="x").id
    teacher_id = setup.teacher.id

    def grade(_index):
        from babyowl.models import User

        assignments.grade(_db.session.get(User, teacher_id), _db.session.get(AssignmentSubmission, submission_id),
                          status="graded", grade_value=60, feedback=None)

    assert _in_parallel(app, 10, grade) == []
    assert ledger(setup.student.id, "assignment_graded") == [60]
