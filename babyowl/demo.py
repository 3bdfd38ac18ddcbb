"""A realistic demo school, created idempotently by `flask seed-demo`.

Every row is found by its natural key (email, slug, class name, meeting) before
it is created, so running the command again changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
import hashlib
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select

from babyowl.extensions import db
from babyowl.models import (
    AttendanceChange,
    ClassAttendance,
    ClassEnrollment,
    Course,
    Exercise,
    Lesson,
    LessonUnlock,
    SchoolClass,
    Section,
    User,
)
from babyowl.models.base import utcnow
from babyowl.services.accounts import find_user_by_email
from babyowl.services.passwords import hash_password
from babyowl.transactions import use_case

DEMO_PASSWORD = "BabyOwl#2026"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    email: str
    name: str


DEMO_USERS = (
    DemoLogin("super_admin", "admin@babyowl.example", "Ayu Admin"),
    DemoLogin("staff", "staff@babyowl.example", "Sari Staf"),
    DemoLogin("instructor", "budi@babyowl.example", "Budi Santoso"),
    DemoLogin("instructor", "rina@babyowl.example", "Rina Wijaya"),
    DemoLogin("student", "andi@babyowl.example", "Andi Pratama"),
    DemoLogin("student", "dewi@babyowl.example", "Dewi Lestari"),
    DemoLogin("student", "eko@babyowl.example", "Eko Saputra"),
    DemoLogin("student", "fitri@babyowl.example", "Fitri Handayani"),
    DemoLogin("student", "gilang@babyowl.example", "Gilang Ramadhan"),
)


def _user(login: DemoLogin) -> User:
    user = find_user_by_email(login.email)
    if user is None:
        user = User(
            email=login.email, full_name=login.name, role=login.role, password_hash=hash_password(DEMO_PASSWORD),
            email_verified=True, onboarding_completed=True,
        )
        db.session.add(user)
    return user


def _coding_content(starter: str, solution: str, tests: list[tuple[str, str, str, bool]]) -> dict:
    return {
        "mode": "challenge",
        "language": "python",
        # The button is "Kirim" in Indonesian and "Submit" in English: name both, as the page does.
        "instructionsSource": "Tulis fungsi sesuai instruksi, lalu tekan **Kirim** (*Submit*).",
        "starterCode": starter,
        "testCases": [
            {"id": f"tc{i}", "name": name, "input": call, "expectedOutput": expected, "isHidden": hidden, "points": 10}
            for i, (name, call, expected, hidden) in enumerate(tests, start=1)
        ],
        "requiredPackages": [],
        "hints": ["Baca lagi contoh di materi.", "Gunakan operator aritmetika Python."],
        "solutionCode": solution,
        "timeLimit": 10,
        "maxPoints": 10 * len(tests),
        "outputType": "console",
        "completionCriteria": "all_tests_pass",
    }


def _exercises_for(lesson_title: str, n: int) -> list[tuple[str, str, dict, int]]:
    """Five exercise types per lesson: what a real beginner lesson holds.

    Each content goes through its type's validate(), which renders the Markdown
    to sanitised HTML and fills in the computed keys, as the authoring form does.
    """
    from babyowl.exercise_types import get_type

    exercises = [
        ("Video: " + lesson_title, "video",
         {"source": "url", "provider": "youtube", "url": "https://www.youtube.com/watch?v=kqtD5dpn9C8",
          "videoId": "kqtD5dpn9C8", "fileKey": None, "duration": 360, "allowManualComplete": True}, 6),
        ("Materi: " + lesson_title, "material",
         {"format": "markdown",
          "source": f"## {lesson_title}\n\nPada pertemuan {n} kita belajar **{lesson_title.lower()}**.\n\n"
                    "```python\nprint('Halo, dunia!')\n```\n"}, 10),
        ("Kuis: " + lesson_title, "quiz",
         {"passingScore": 70, "attemptsAllowed": 3, "shuffle": False, "questions": [
             {"id": "q1", "type": "single_choice", "text": "Apa hasil dari print(2 + 3)?",
              "options": [{"id": "a", "text": "23"}, {"id": "b", "text": "5"}, {"id": "c", "text": "Error"}],
              "correct": ["b"], "points": 5, "explanation": "2 + 3 adalah penjumlahan bilangan bulat."},
             {"id": "q2", "type": "true_false", "text": "Python membedakan huruf besar dan kecil.",
              "correct": [True], "points": 5, "explanation": "Nama `Umur` dan `umur` adalah dua variabel berbeda."},
             {"id": "q3", "type": "multiple_choice", "text": "Mana saja tipe data bawaan Python?",
              "options": [{"id": "a", "text": "int"}, {"id": "b", "text": "str"}, {"id": "c", "text": "angka"}],
              "correct": ["a", "b"], "points": 5, "explanation": "`angka` bukan nama tipe di Python."},
             {"id": "q4", "type": "short_answer", "text": "Fungsi apa yang mencetak teks ke layar?",
              "correct": ["print", "print()"], "points": 5, "explanation": "print() menulis ke layar."},
         ]}, 5),
        ("Tugas: " + lesson_title, "assignment",
         {"instructionsSource": "Buat program kecil yang memakai materi hari ini, lalu unggah file `.py` Anda.",
          "submissionTypes": ["file", "text", "link"], "allowedFileTypes": [".py", ".txt", ".pdf"],
          "maxFileSizeMb": 5, "maxGrade": 100, "dueOffsetDays": 7}, 20),
        ("Latihan koding: " + lesson_title, "coding",
         _coding_content("def kali(a, b):\n    pass\n", "def kali(a, b):\n    return a * b\n",
                         [("Contoh dasar", "print(kali(5, 3))", "15", False),
                          ("Dengan nol", "print(kali(0, 9))", "0", False),
                          ("Bilangan negatif", "print(kali(-2, 4))", "-8", True)]), 15),
    ]
    return [(title, kind, get_type(kind).validate(content), minutes) for title, kind, content, minutes in exercises]


COURSES = (
    ("python-dasar", "PY101", "Python Dasar", "Programming", "beginner",
     "Belajar dasar pemrograman Python: variabel, percabangan, perulangan dan fungsi.",
     (("Mengenal Python", ("Halo, Python", "Variabel dan tipe data", "Input dan output")),
      ("Logika program", ("Percabangan if", "Perulangan for", "Perulangan while")),
      ("Fungsi", ("Membuat fungsi", "Parameter dan nilai kembali")))),
    ("web-dengan-flask", "WEB201", "Web dengan Flask", "Web", "intermediate",
     "Membangun aplikasi web kecil dengan Flask dan HTML.",
     (("Dasar web", ("HTTP dan HTML", "Route pertama")), ("Formulir", ("Form dan validasi",)))),
)


def _course(slug, code, title, category, level, description, sections, author) -> Course:
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    if course is not None:
        return course
    course = Course(slug=slug, code=code, title=title, category=category, level=level, description=description,
                    status="published", created_by=author.id, published_at=utcnow(), estimated_duration=20)
    db.session.add(course)
    lesson_number = 0
    for s_index, (section_title, lesson_titles) in enumerate(sections):
        section = Section(course=course, title=section_title, order_index=s_index)
        db.session.add(section)
        for l_index, lesson_title in enumerate(lesson_titles):
            lesson_number += 1
            exercises = _exercises_for(lesson_title, lesson_number)
            lesson = Lesson(section=section, title=lesson_title, order_index=l_index, status="published",
                            estimated_duration=sum(e[3] for e in exercises))
            db.session.add(lesson)
            for e_index, (ex_title, ex_type, content, minutes) in enumerate(exercises):
                db.session.add(Exercise(lesson=lesson, title=ex_title, type=ex_type, content=content,
                                        order_index=e_index, estimated_duration=minutes))
    return course


def _class(name: str, **fields) -> SchoolClass:
    school_class = db.session.scalar(select(SchoolClass).where(SchoolClass.name == name))
    if school_class is None:
        school_class = SchoolClass(name=name, **fields)
        db.session.add(school_class)
    return school_class


def _enroll(school_class: SchoolClass, student: User, amount: Decimal) -> ClassEnrollment:
    enrollment = db.session.scalar(select(ClassEnrollment).where(
        ClassEnrollment.class_id == school_class.id, ClassEnrollment.student_id == student.id))
    if enrollment is None:
        enrollment = ClassEnrollment(school_class=school_class, student=student,
                                     meeting_credits=school_class.total_meetings, payment_status="verified",
                                     payment_amount=amount)
        db.session.add(enrollment)
        school_class.current_capacity += 1
    return enrollment


def _hold_meetings(school_class: SchoolClass, enrollments: list[ClassEnrollment], marks: list[list[str]],
                   first_date: date, marker: User) -> None:
    """Past meetings with their marks, credits and unlocked lessons kept consistent."""
    if school_class.meetings_completed >= len(marks):
        return
    lessons = db.session.scalars(
        select(Lesson).join(Section).where(Section.course_id == school_class.course_id)
        .order_by(Section.order_index, Lesson.order_index)
    ).all()
    attended = {enrollment.id: 0 for enrollment in enrollments}
    for meeting_index, meeting_marks in enumerate(marks):
        meeting_number = meeting_index + 1
        for enrollment, status in zip(enrollments, meeting_marks):
            deducted = status in ("present", "late")
            meeting_date = first_date + timedelta(days=7 * meeting_index)
            marked_at = datetime.combine(meeting_date, time(10), tzinfo=timezone.utc)
            record = ClassAttendance(
                id=uuid.uuid4(), school_class=school_class, enrollment=enrollment, meeting_number=meeting_number,
                meeting_date=meeting_date, status=status, credit_deducted=deducted, marked_by=marker.id,
                marked_at=marked_at)
            db.session.add(record)
            db.session.flush()
            # The history the register keeps, so the demo's credits reconcile.
            db.session.add(AttendanceChange(attendance_id=record.id, enrollment_id=enrollment.id,
                                            meeting_number=meeting_number, new_status=status,
                                            credit_change=int(deducted), changed_by=marker.id, changed_at=marked_at))
            enrollment.credits_used += int(deducted)
            attended[enrollment.id] += int(deducted)
        db.session.add(LessonUnlock(school_class=school_class, lesson=lessons[meeting_index], unlocked_by=marker.id))
    held = len(marks)
    for enrollment in enrollments:
        enrollment.attendance_rate = (Decimal(attended[enrollment.id] * 100) / held).quantize(Decimal("0.01"))
    school_class.meetings_completed = held
    school_class.lessons_unlocked = held


def _seed_community(users: dict[str, User], school_class: SchoolClass, today: date) -> None:
    """A few posts with likes and comments, a study group and an upcoming event with answers (once)."""
    from babyowl.exercise_types.richtext import render_markdown
    from babyowl.models import (
        CommunityComment, CommunityEvent, CommunityEventRSVP, CommunityGroup, CommunityGroupMember, CommunityPost,
        CommunityPostLike,
    )

    if db.session.scalar(select(CommunityGroup).where(CommunityGroup.name == "Klub Turtle Sabtu")) is not None:
        return
    person = {key.split("@")[0]: user for key, user in users.items()}
    group = CommunityGroup(name="Klub Turtle Sabtu", description="Menggambar dengan turtle bersama, tiap Sabtu.",
                           created_by=person["budi"].id, join_policy="open", members_count=3)
    db.session.add(group)
    db.session.flush()
    for name, role in (("budi", "creator"), ("andi", "member"), ("dewi", "member")):
        db.session.add(CommunityGroupMember(group_id=group.id, user_id=person[name].id, role=role))
    base = datetime.combine(today - timedelta(days=2), time(3), tzinfo=timezone.utc)
    posts = [
        ("budi", "school", "Selamat datang di **komunitas Baby Owl**! Bagikan karyamu di sini.", ["andi", "dewi"],
         [("andi", "Siap, Pak!")]),
        ("andi", "class", "Aku berhasil menggambar bintang dengan `turtle`!", ["dewi", "eko", "budi"],
         [("dewi", "Keren! Bagaimana caranya?"), ("andi", "Pakai perulangan `for` lima kali.")]),
        ("dewi", "group", "Sabtu ini kita coba menggambar spiral, ya.", ["andi"], []),
    ]
    for n, (author, scope, content, likers, comments) in enumerate(posts):
        post = CommunityPost(author_id=person[author].id, content=content, content_html=render_markdown(content),
                             scope=scope, class_id=school_class.id if scope == "class" else None,
                             group_id=group.id if scope == "group" else None, likes_count=len(likers),
                             comments_count=len(comments), created_at=base + timedelta(hours=n * 5))
        db.session.add(post)
        db.session.flush()
        for liker in likers:
            db.session.add(CommunityPostLike(post_id=post.id, user_id=person[liker].id))
        for i, (commenter, text) in enumerate(comments):
            db.session.add(CommunityComment(post_id=post.id, author_id=person[commenter].id, content=text,
                                            content_html=render_markdown(text),
                                            created_at=post.created_at + timedelta(minutes=30 * (i + 1))))
    event = CommunityEvent(title="Workshop: game kecil dengan Python", description="Bawa laptop dan semangat.",
                           event_date=today + timedelta(days=10), start_time=time(9), end_time=time(12),
                           location="Aula Baby Owl, Jakarta", online=False, capacity=20,
                           created_by=person["rina"].id, attendees_count=2)
    db.session.add(event)
    db.session.flush()
    for name, status in (("andi", "attending"), ("fitri", "attending"), ("eko", "maybe")):
        db.session.add(CommunityEventRSVP(event_id=event.id, user_id=person[name].id, status=status))


@use_case
def seed_demo() -> list[DemoLogin]:
    users = {login.email: _user(login) for login in DEMO_USERS}
    db.session.flush()
    budi, rina = users["budi@babyowl.example"], users["rina@babyowl.example"]
    python, flask_course = (_course(*spec, author=budi if i == 0 else rina) for i, spec in enumerate(COURSES))
    db.session.flush()

    today = date.today()
    group = _class("Python Dasar — Grup Sabtu Pagi", course=python, instructor=budi, type="group", max_capacity=8,
                   total_meetings=10, schedule={"days": ["Saturday"], "time": "09:00-11:00"}, status="active",
                   enrollment_deadline=today - timedelta(days=25), start_date=today - timedelta(days=21),
                   end_date=today + timedelta(days=49))
    private = _class("Python Dasar — Privat Gilang", course=python, instructor=rina, type="private", max_capacity=1,
                     total_meetings=20, schedule={"days": ["Tuesday", "Thursday"], "time": "19:00-20:30"},
                     status="active", start_date=today - timedelta(days=7))
    _class("Web dengan Flask — Grup Januari", course=flask_course, instructor=rina, type="group", max_capacity=10,
           total_meetings=10, schedule={"days": ["Wednesday"], "time": "19:00-21:00"}, status="enrollment_open",
           enrollment_deadline=today + timedelta(days=30), start_date=today + timedelta(days=35))
    db.session.flush()

    group_students = [users[e] for e in ("andi@babyowl.example", "dewi@babyowl.example", "eko@babyowl.example",
                                         "fitri@babyowl.example")]
    group_enrollments = [_enroll(group, s, Decimal("1500000")) for s in group_students]
    private_enrollment = _enroll(private, users["gilang@babyowl.example"], Decimal("4000000"))
    db.session.flush()
    _hold_meetings(group, group_enrollments,
                   [["present", "present", "late", "absent"],
                    ["present", "absent", "present", "present"],
                    ["present", "present", "present", "late"]],
                   today - timedelta(days=21), budi)
    _hold_meetings(private, [private_enrollment], [["present"], ["present"]], today - timedelta(days=7), rina)
    _seed_gamification(group, group_enrollments + [private_enrollment], users["staff@babyowl.example"])
    _seed_messages(users, [group, private], today)
    _seed_community(users, group, today)
    _seed_payments(users, group, private, group_enrollments, private_enrollment)
    return list(DEMO_USERS)


def _seed_gamification(group: SchoolClass, enrollments: list[ClassEnrollment], staff: User) -> None:
    """XP, levels, streaks and badges for the demo students, and an anonymous leaderboard for the group class.

    Attendance XP for the marks already held, the first lesson's exercises done
    by Andi (three days in a row: a streak) and Dewi, a bonus from staff, then
    every badge earned so far. Every award has its ledger key, so a second run
    adds nothing.
    """
    from babyowl.exercise_types import get_type
    from babyowl.models import ClassLeaderboard
    from babyowl.services import badges, xp
    from babyowl.services.progress import locked_progress, refresh_counters, set_completed

    badges.ensure_catalog()
    for record in db.session.scalars(select(ClassAttendance).where(
            ClassAttendance.enrollment_id.in_([e.id for e in enrollments]),
            ClassAttendance.status.in_(("present", "late")))):
        xp.for_attendance(record.enrollment.student_id, record.id, record.status, record.class_id)
    now = utcnow()
    first_lesson = db.session.scalars(select(Lesson).join(Section).where(Section.course_id == group.course_id)
                                      .order_by(Section.order_index, Lesson.order_index).limit(1)).one()
    for enrollment, how_many in zip(enrollments[:2], (3, 1)):
        student_id = enrollment.student_id
        doable = [e for e in first_lesson.exercises if get_type(e.type).manual_completion_allowed(e.content)
                  or e.type in ("material", "video")][:how_many]
        for days_ago, exercise in zip(range(how_many - 1, -1, -1), doable):
            progress = locked_progress(student_id, exercise.id)
            if not progress.completed:
                xp.award(student_id, "exercise_completed", exercise.id, xp.points("exercise_completed"),
                         class_id=group.id, at=now - timedelta(days=days_ago))
                set_completed(progress, True)
            refresh_counters(student_id, first_lesson, class_id=group.id)
    xp.award(enrollments[0].student_id, "bonus", uuid.uuid5(group.id, "demo-bonus"), 50, class_id=group.id,
             awarded_by=staff.id, note="Membantu teman sekelas")
    if db.session.get(ClassLeaderboard, group.id) is None:
        db.session.add(ClassLeaderboard(class_id=group.id, mode="anonymous", neighbours=2))
    db.session.flush()
    for enrollment in enrollments:
        badges.check_for(enrollment.student_id)


def _seed_messages(users: dict[str, User], classes: list[SchoolClass], today: date) -> None:
    """The group's class conversation with a few messages, and Andi asking his instructor Budi directly."""
    from babyowl.models import Message
    from babyowl.services import messages

    conversation_ids = [messages.sync_class_conversation(school_class) for school_class in classes]
    budi, andi, dewi = (users[f"{name}@babyowl.example"] for name in ("budi", "andi", "dewi"))
    direct_id = messages.demo_direct_conversation(andi, budi)
    when = datetime.combine(today - timedelta(days=1), time(12, 0), tzinfo=timezone.utc)
    threads = {
        conversation_ids[0]: [(budi, "Selamat pagi semua! Jangan lupa kerjakan latihan **perulangan** ya."),
                              (andi, "Siap, Pak!"),
                              (dewi, "Pak, boleh kita bahas `for` lagi di pertemuan berikutnya?")],
        direct_id: [(andi, "Pak, minggu depan saya izin karena ada acara keluarga."),
                    (budi, "Baik, Andi. Materinya bisa kamu baca di pelajaran yang sudah dibuka.")],
    }
    for conversation_id, lines in threads.items():
        if db.session.scalar(select(Message.id).where(Message.conversation_id == conversation_id).limit(1)):
            continue  # seeded before
        for n, (sender, text) in enumerate(lines):
            messages.demo_message(conversation_id, sender, text, when + timedelta(minutes=5 * n))


def _seed_payments(users: dict[str, User], group: SchoolClass, private: SchoolClass,
                   group_enrollments: list[ClassEnrollment], private_enrollment: ClassEnrollment) -> None:
    """Prices, two bank accounts and an invoice in every state staff meet: found by their numbers, so a second
    run adds nothing. The refunds remove their unused credits through the credits service (adjustments with
    reason `refund`), and the refunded top-up first added its meetings, so the reconciliation stays balanced."""
    from babyowl.services import classes, credits
    from babyowl.models import BankAccount, Invoice, InvoiceDelivery, InvoiceEvent, PaymentProof
    from babyowl.storage import get_storage

    open_class = db.session.scalar(select(SchoolClass).where(SchoolClass.name == "Web dengan Flask — Grup Januari"))
    group.package_price, private.package_price, open_class.package_price = (
        Decimal("1500000"), Decimal("4000000"), Decimal("1750000"))
    private.meeting_price = Decimal("200000")
    for bank, number in (("BCA", "8720123456"), ("Mandiri", "1300098765432")):
        if db.session.scalar(select(BankAccount).where(BankAccount.account_number == number)) is None:
            db.session.add(BankAccount(bank_name=bank, account_number=number, account_holder="Yayasan Baby Owl"))
    staff = users["staff@babyowl.example"]
    now = utcnow()
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS"
           b"\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00"
           b"\x00\x00IEND\xaeB`\x82")
    andi, dewi, eko, fitri, gilang = (users[f"{n}@babyowl.example"] for n in ("andi", "dewi", "eko", "fitri", "gilang"))
    # number, student, class, enrollment, kind, meetings, price, code, received, states (oldest first), proof
    plan = [
        ("DEMO-0001", andi, group, group_enrollments[0], "enrollment", 10, "1500000", 101, "1500101",
         ("pending", "submitted", "verified"), True),
        ("DEMO-0002", fitri, group, group_enrollments[3], "enrollment", 10, "1500000", 102, "1000000",
         ("pending", "submitted", "partially_paid"), True),
        ("DEMO-0003", dewi, open_class, None, "enrollment", 10, "1750000", 103, "0", ("pending", "submitted"), True),
        ("DEMO-0004", eko, open_class, None, "enrollment", 10, "1750000", 104, "0", ("pending",), False),
        ("DEMO-0005", gilang, private, private_enrollment, "top_up", 4, "800000", 105, "0",
         ("pending", "submitted", "rejected"), True),
        ("DEMO-0006", fitri, open_class, None, "enrollment", 10, "1750000", 106, "0", ("pending", "expired"), False),
        ("DEMO-0007", andi, open_class, None, "enrollment", 10, "1750000", 107, "0", ("pending", "cancelled"), False),
        ("DEMO-0008", dewi, group, group_enrollments[1], "enrollment", 10, "1500000", 108, "1500108",
         ("pending", "submitted", "verified", "partially_refunded"), True),
        ("DEMO-0009", gilang, private, private_enrollment, "top_up", 2, "400000", 109, "400109",
         ("pending", "submitted", "verified", "refunded"), True),
    ]
    refunds = {"DEMO-0008": (2, Decimal("300000")), "DEMO-0009": (2, Decimal("400109"))}  # credits, rupiah
    reasons = {"rejected": "Foto bukti transfer buram, nominal tidak terbaca.", "expired": "Not paid by the due date.",
               "cancelled": "Pindah ke kelas lain.", "submitted": "Proof of transfer uploaded.",
               "partially_refunded": "Dua pertemuan dibatalkan karena pindah jadwal.",
               "refunded": "Jadwal tambahan tidak jadi; seluruh pembayaran dikembalikan."}
    for number, student, school_class, enrollment, kind, meetings, price, code, received, states, has_proof in plan:
        if db.session.scalar(select(Invoice).where(Invoice.number == number)) is not None:
            continue
        amount = Decimal(price)
        refund_credits, refunded = refunds.get(number, (0, Decimal("0")))
        invoice = Invoice(id=uuid.uuid4(), number=number, kind=kind, student_id=student.id, class_id=school_class.id,
                          enrollment_id=enrollment.id if enrollment else None, meetings=meetings, amount_due=amount,
                          unique_code=code, expected_total=amount + code, amount_received=Decimal(received),
                          amount_refunded=refunded, status=states[-1], created_by=student.id,
                          due_at=now + timedelta(days=-2 if states[-1] == "expired" else 3))
        db.session.add(invoice)
        db.session.flush()
        previous = None
        for step, state in enumerate(states):
            actor = student if state in ("pending", "submitted") else (None if state == "expired" else staff)
            paid = Decimal(received) if state in ("verified", "partially_paid") else None
            db.session.add(InvoiceEvent(invoice_id=invoice.id, actor_id=actor.id if actor else None,
                                        old_status=previous, new_status=state, reason=reasons.get(state),
                                        amount=refunded if state.endswith("refunded") else paid,
                                        created_at=now - timedelta(days=3) + timedelta(hours=step)))
            previous = state
        if has_proof:
            key = f"payment-proofs/demo/{number.lower()}.png"
            get_storage().save(key, png, "image/png")
            db.session.add(PaymentProof(invoice_id=invoice.id, uploaded_by=student.id, file_key=key,
                                        file_name="bukti-transfer.png", content_type="image/png", file_size=len(png),
                                        sha256=hashlib.sha256(png).hexdigest() if number != "DEMO-0003" else
                                        hashlib.sha256(number.encode()).hexdigest(),
                                        transfer_date=date.today() - timedelta(days=3), sender_name=student.full_name,
                                        sender_bank="BCA"))
        if "verified" in states:
            added = meetings if kind == "top_up" else 0
            if added:
                classes._add_meetings(school_class, added)  # what verifying a top-up delivers
            db.session.add(InvoiceDelivery(invoice_id=invoice.id, enrollment_id=enrollment.id, credits_added=added,
                                           delivered_by=staff.id))
        if refund_credits:
            credits.remove_for_refund(staff, enrollment, refund_credits,
                                      f"Refund of {number}: {reasons[states[-1]]}")
        if enrollment is not None and kind == "enrollment":
            enrollment.payment_status = states[-1] if states[-1] in (
                "verified", "partially_paid", "partially_refunded", "refunded") else "pending"
