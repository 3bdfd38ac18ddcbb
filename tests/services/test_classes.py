"""The class rules of the spec, each with its refusal case; races on PostgreSQL."""
from __future__ import annotations

import threading
from decimal import Decimal
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from babyowl.models import ClassEnrollment, LessonUnlock, Notification, SchoolClass
from babyowl.services import classes
from babyowl.services.classes import ClassDetails
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from tests.factories import make_course, make_user
from tests.helpers import reload


@pytest.fixture
def staff(db):
    return make_user("staff")


@pytest.fixture
def teacher(db):
    return make_user("instructor")


@pytest.fixture
def course(db):
    return make_course(lessons=4, status="published")


def details(course, teacher, **changes) -> ClassDetails:
    values = dict(name="Python Grup Sabtu", course_id=course.id, instructor_id=teacher.id, type="group",
                  total_meetings=10, max_capacity=3, days=("Saturday",),
                  enrollment_deadline=date.today() + timedelta(days=7), start_date=date.today() + timedelta(days=10))
    values.update(changes)
    return ClassDetails(**values)


@pytest.fixture
def group(staff, course, teacher):
    return classes.create_class(staff, details(course, teacher))


def test_staff_create_a_draft_group_class(group, course):
    assert (group.status, group.type, group.total_meetings, group.current_capacity) == ("draft", "group", 10, 0)
    assert group.schedule == {"days": ["Saturday"], "time": None}


@pytest.mark.parametrize("changes, message", [
    ({"enrollment_deadline": None}, "A group class needs an enrollment deadline."),
    ({"total_meetings": 0}, "The package must have from 1 to 200 meetings."),
    ({"max_capacity": 0}, "A group class needs a capacity of at least 1 student."),
    ({"end_date": date.today()}, "The class cannot end before it starts."),
    ({"name": " "}, "Enter a name for the class."),
])
def test_bad_class_details_are_refused(db, staff, course, teacher, changes, message):
    with pytest.raises(InvalidInput, match=message):
        classes.create_class(staff, details(course, teacher, **changes))
    assert db.session.scalar(select(func.count()).select_from(SchoolClass)) == 0


def test_only_published_courses_and_real_instructors(db, staff, teacher):
    with pytest.raises(InvalidInput, match="Choose a published course."):
        classes.create_class(staff, details(make_course(status="draft"), teacher))
    with pytest.raises(InvalidInput, match="Choose an active instructor."):
        classes.create_class(staff, details(make_course(status="published"), make_user("student")))


def test_instructors_and_students_do_not_create_classes(db, course, teacher):
    with pytest.raises(NotAllowed):
        classes.create_class(teacher, details(course, teacher))


def test_a_private_class_always_has_one_seat(staff, course, teacher):
    private = classes.create_class(staff, details(course, teacher, type="private", max_capacity=8,
                                                  enrollment_deadline=None))
    assert private.max_capacity == 1 and private.enrollment_deadline is None
    classes.enroll(staff, private, make_user("student"))
    with pytest.raises(classes.ClassFull):
        classes.enroll(staff, private, make_user("student"))


def test_status_follows_the_life_cycle(db, staff, group):
    with pytest.raises(DomainError, match="cannot go from draft to active"):
        classes.change_status(staff, group, "active")
    for status in ("enrollment_open", "active", "completed"):
        classes.change_status(staff, group, status)
    with pytest.raises(DomainError, match="cannot go from completed to cancelled"):
        classes.change_status(staff, group, "cancelled")


def test_enrollment_gives_the_package_as_credits_and_counts_seats(db, staff, group):
    student = make_user("student")
    group.package_price = Decimal("1500000")
    enrollment = classes.enroll(staff, group, student, paid_at_desk="1500000")
    assert (enrollment.meeting_credits, enrollment.credits_remaining) == (10, 10)
    assert str(enrollment.payment_amount) == "1500000.00" and enrollment.payment_status == "verified"
    assert reload(db, group).current_capacity == 1
    with pytest.raises(classes.AlreadyEnrolled):
        classes.enroll(staff, group, student)
    assert reload(db, group).current_capacity == 1


def test_no_enrollment_into_a_started_group_class(db, staff, group):
    classes.change_status(staff, group, "enrollment_open")
    classes.change_status(staff, group, "active")
    with pytest.raises(classes.EnrollmentClosed, match="already started"):
        classes.enroll(staff, group, make_user("student"))


def test_no_enrollment_after_the_deadline(db, staff, course, teacher):
    late = classes.create_class(staff, details(course, teacher, enrollment_deadline=date.today() - timedelta(days=1),
                                               start_date=date.today() + timedelta(days=3)))
    with pytest.raises(classes.EnrollmentClosed, match="deadline"):
        classes.enroll(staff, late, make_user("student"))
    assert db.session.scalar(select(func.count()).select_from(ClassEnrollment)) == 0


def test_no_enrollment_over_capacity(db, staff, group):
    for _ in range(3):
        classes.enroll(staff, group, make_user("student"))
    with pytest.raises(classes.ClassFull, match="3 of 3"):
        classes.enroll(staff, group, make_user("student"))
    assert reload(db, group).current_capacity == 3


def test_bad_payment_and_non_students_are_refused(db, staff, group):
    with pytest.raises(InvalidInput, match="Enter an amount in rupiah"):
        classes.enroll(staff, group, make_user("student"), paid_at_desk="lima ratus")
    with pytest.raises(InvalidInput, match="Only an active student"):
        classes.enroll(staff, group, make_user("instructor"))
    assert reload(db, group).current_capacity == 0


def test_withdrawing_frees_the_seat_and_keeps_history(db, staff, group):
    student = make_user("student")
    enrollment = classes.enroll(staff, group, student)
    classes.withdraw(staff, enrollment)
    assert reload(db, enrollment).status == "withdrawn" and reload(db, group).current_capacity == 0
    again = classes.enroll(staff, group, student)
    assert again.id == enrollment.id and again.status == "active"


def test_an_active_group_class_keeps_its_package(db, staff, group, course, teacher):
    classes.change_status(staff, group, "enrollment_open")
    classes.change_status(staff, group, "active")
    with pytest.raises(DomainError, match="keeps its package of 10 meetings"):
        classes.update_class(staff, group, details(course, teacher, total_meetings=12))
    assert reload(db, group).total_meetings == 10


def test_a_private_class_adds_meetings_and_credits_at_any_time(db, staff, course, teacher):
    private = classes.create_class(staff, details(course, teacher, type="private", enrollment_deadline=None))
    enrollment = classes.enroll(staff, private, make_user("student"))
    classes.change_status(staff, private, "active")
    classes.update_class(staff, private, details(course, teacher, type="private", enrollment_deadline=None,
                                                 total_meetings=15))
    assert reload(db, private).total_meetings == 15 and reload(db, enrollment).meeting_credits == 15


def hold_meetings(db, school_class, n):
    school_class = reload(db, school_class)
    school_class.meetings_completed = n
    db.session.commit()


def test_unlocking_follows_the_meetings_held(db, staff, group, teacher):
    student = make_user("student")
    classes.enroll(staff, group, student)
    classes.change_status(staff, group, "enrollment_open")
    classes.change_status(staff, group, "active")
    with pytest.raises(classes.UnlockRefused, match="Take attendance for meeting 1 first"):
        classes.unlock_next_lesson(teacher, group)
    hold_meetings(db, group, 2)
    first = classes.unlock_next_lesson(teacher, group)
    second = classes.unlock_next_lesson(teacher, group)
    assert (first.title, second.title) == ("Lesson 1", "Lesson 2")
    with pytest.raises(classes.UnlockRefused, match="2 held, 2 unlocked"):
        classes.unlock_next_lesson(teacher, group)
    assert reload(db, group).lessons_unlocked == 2
    assert classes.student_can_open(student, first) and not classes.student_can_open(make_user("student"), first)
    notes = db.session.scalars(select(Notification).where(Notification.user_id == student.id)).all()
    assert sorted(n.title for n in notes) == ["New lesson: Lesson 1", "New lesson: Lesson 2"]


def test_only_the_classes_instructor_or_a_super_admin_unlocks(db, staff, group):
    with pytest.raises(NotAllowed):
        classes.unlock_next_lesson(make_user("instructor"), group)
    with pytest.raises(NotAllowed):
        classes.unlock_next_lesson(staff, group)


def test_continuing_a_group_as_a_private_class(db, staff, group, teacher):
    student = make_user("student")
    classes.enroll(staff, group, student)
    classes.change_status(staff, group, "enrollment_open")
    classes.change_status(staff, group, "active")
    hold_meetings(db, group, 1)
    classes.unlock_next_lesson(teacher, group)
    assert classes.default_continuation_meetings(reload(db, group)) == 3  # 4 lessons, 1 reached
    private = classes.continue_as_private(staff, reload(db, group), student, name="Privat Andi",
                                          instructor_id=teacher.id)
    assert (private.type, private.continued_from_class_id, private.course_id, private.total_meetings) == (
        "private", group.id, group.course_id, 3)
    assert db.session.scalar(select(ClassEnrollment.meeting_credits).where(ClassEnrollment.class_id == private.id)) == 3
    with pytest.raises(InvalidInput, match="was not in this class"):
        classes.continue_as_private(staff, reload(db, group), make_user("student"), name="X", instructor_id=None)


def run_in_parallel(app, count, action):
    """`count` threads, each in its own app context (own session, own connection), started together."""
    barrier = threading.Barrier(count)
    outcomes = []

    def worker(n):
        with app.app_context():
            barrier.wait()
            try:
                action(n)
                outcomes.append("ok")
            except DomainError as refused:
                outcomes.append(type(refused).__name__)
            finally:
                from babyowl.extensions import db

                db.session.remove()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_twenty_parallel_enrollments_for_the_last_five_seats(app, db, staff, course, teacher):
    school_class = classes.create_class(staff, details(course, teacher, max_capacity=7))
    for _ in range(2):
        classes.enroll(staff, school_class, make_user("student"))
    students = [make_user("student") for _ in range(20)]
    class_id, staff_id, student_ids = school_class.id, staff.id, [s.id for s in students]

    def enroll_one(n):
        from babyowl.extensions import db as session_db
        from babyowl.models import User

        classes.enroll(session_db.session.get(User, staff_id), session_db.session.get(SchoolClass, class_id),
                       session_db.session.get(User, student_ids[n]))

    outcomes = run_in_parallel(app, 20, enroll_one)
    assert outcomes.count("ok") == 5 and outcomes.count("ClassFull") == 15
    db.session.expire_all()
    real = db.session.scalar(select(func.count()).where(ClassEnrollment.class_id == class_id,
                                                        ClassEnrollment.status == "active"))
    assert real == 7 and db.session.get(SchoolClass, class_id).current_capacity == 7


def test_ten_parallel_unlock_clicks_unlock_exactly_what_is_allowed(app, db, staff, group, teacher):
    classes.change_status(staff, group, "enrollment_open")
    classes.change_status(staff, group, "active")
    hold_meetings(db, group, 3)
    class_id, teacher_id = group.id, teacher.id

    def click(n):
        from babyowl.extensions import db as session_db
        from babyowl.models import User

        classes.unlock_next_lesson(session_db.session.get(User, teacher_id),
                                   session_db.session.get(SchoolClass, class_id))

    outcomes = run_in_parallel(app, 10, click)
    assert outcomes.count("ok") == 3 and outcomes.count("UnlockRefused") == 7
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).where(LessonUnlock.class_id == class_id)) == 3
    assert db.session.get(SchoolClass, class_id).lessons_unlocked == 3


def _group_with_unlocked(db, staff, teacher, lessons: int, unlocked: int, student):
    course = make_course(lessons=lessons, status="published")
    group = classes.create_class(staff, details(course, teacher))
    classes.enroll(staff, group, student)
    classes.change_status(staff, group, "enrollment_open")
    classes.change_status(staff, group, "active")
    hold_meetings(db, group, unlocked)
    for _ in range(unlocked):
        classes.unlock_next_lesson(teacher, group)
    return reload(db, group)


def test_a_continuation_picks_up_at_the_first_lesson_the_group_did_not_unlock(db, staff, teacher):
    """Defect 1: 3 of 8 lessons unlocked in the group; the private class goes on with 4..8, never 1..3 again."""
    student = make_user("student")
    group = _group_with_unlocked(db, staff, teacher, lessons=8, unlocked=3, student=student)
    private = classes.continue_as_private(staff, group, student, name="Privat", instructor_id=teacher.id)
    assert private.total_meetings == 5
    classes.change_status(staff, private, "active")
    hold_meetings(db, private, 5)
    opened = [classes.unlock_next_lesson(teacher, reload(db, private)).title for _ in range(5)]
    assert opened == ["Lesson 4", "Lesson 5", "Lesson 6", "Lesson 7", "Lesson 8"]
    assert reload(db, private).lessons_unlocked == 5
    plan = classes.lesson_plan(reload(db, private))
    assert [(e.number, e.lesson.title, e.covered, e.unlocked) for e in plan] == [
        (None, "Lesson 1", True, True), (None, "Lesson 2", True, True), (None, "Lesson 3", True, True),
        (1, "Lesson 4", False, True), (2, "Lesson 5", False, True), (3, "Lesson 6", False, True),
        (4, "Lesson 7", False, True), (5, "Lesson 8", False, True)]
    private = reload(db, private)
    private.total_meetings = private.meetings_completed = 6
    db.session.commit()
    with pytest.raises(classes.UnlockRefused, match="Every lesson of the course is already unlocked"):
        classes.unlock_next_lesson(teacher, reload(db, private))


def test_the_plan_of_a_new_continuation_shows_the_covered_lessons_first(db, staff, teacher):
    student = make_user("student")
    group = _group_with_unlocked(db, staff, teacher, lessons=8, unlocked=3, student=student)
    private = classes.continue_as_private(staff, group, student, name="Privat", instructor_id=teacher.id)
    plan = classes.lesson_plan(private)
    assert [(e.number, e.covered, e.unlocked) for e in plan[:5]] == [
        (None, True, True), (None, True, True), (None, True, True), (1, False, False), (2, False, False)]


def test_the_continuing_student_can_open_what_the_group_covered(db, staff, teacher):
    student = make_user("student")
    group = _group_with_unlocked(db, staff, teacher, lessons=4, unlocked=2, student=student)
    private = classes.continue_as_private(staff, group, student, name="Privat", instructor_id=teacher.id)
    classes.change_status(staff, group, "completed")
    first, _second, third, _fourth = classes.course_lessons(group.course_id)
    assert classes.student_can_open(student, first) and not classes.student_can_open(student, third)
    assert classes.lesson_for_class(student, reload(db, private), first.id) == first
    with pytest.raises(NotAllowed):
        classes.lesson_for_class(student, reload(db, private), third.id)


def test_the_lesson_player_of_a_continuation_opens_what_the_group_covered(db, staff, teacher):
    from babyowl.services import learning

    student = make_user("student")
    group = _group_with_unlocked(db, staff, teacher, lessons=4, unlocked=2, student=student)
    private = classes.continue_as_private(staff, group, student, name="Privat", instructor_id=teacher.id)
    first, second, third, _fourth = classes.course_lessons(group.course_id)
    page = learning.lesson_page(student, private.id, second.id)
    assert (page.number, page.lesson.title, page.previous.id, page.school_class.name) == (2, second.title,
                                                                                          first.id, "Privat")
    assert page.next.id == third.id and not page.next_unlocked
    with pytest.raises(NotAllowed):
        learning.lesson_page(student, private.id, third.id)
    with pytest.raises(classes.ClassNotFound):
        learning.lesson_page(make_user("student"), private.id, first.id)


def test_a_refused_continuation_leaves_no_draft_class(db, staff, teacher):
    """Defect 2: the enrollment into the new private class is refused, so the class is not made either."""
    student = make_user("student")
    group = _group_with_unlocked(db, staff, teacher, lessons=4, unlocked=1, student=student)
    student = reload(db, student)
    student.status = "inactive"
    db.session.commit()
    before = db.session.scalar(select(func.count()).select_from(SchoolClass))
    with pytest.raises(InvalidInput, match="Only an active student can be enrolled"):
        classes.continue_as_private(staff, group, student, name="Privat", instructor_id=teacher.id)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(SchoolClass)) == before
    assert db.session.scalar(select(func.count()).where(SchoolClass.continued_from_class_id == group.id)) == 0
