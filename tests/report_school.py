"""A small school with known attendance, shared by the report tests.

Class A (Budi): meetings on 3, 10 and 17 October; class B (Rina): 4 and 11
October. Andi is in both classes. Andi gets a bonus credit between meetings 1
and 2 of class A; Siti a refund after the last meeting.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from babyowl.models import ClassEnrollment, SchoolClass, User
from babyowl.services import attendance, credits
from tests.factories import make_class, make_enrollment, make_user

A_DATES = (date(2026, 10, 3), date(2026, 10, 10), date(2026, 10, 17))
B_DATES = (date(2026, 10, 4), date(2026, 10, 11))


@dataclass
class School:
    budi: User
    rina: User
    staff: User
    class_a: SchoolClass
    class_b: SchoolClass
    andi_a: ClassEnrollment
    siti_a: ClassEnrollment
    nguyen_a: ClassEnrollment
    dewi_b: ClassEnrollment
    andi_b: ClassEnrollment


def _take(teacher, school_class, dates, marks: dict[ClassEnrollment, str], meeting: int):
    for enrollment, status in marks.items():
        attendance.mark(teacher, school_class, enrollment_id=enrollment.id, meeting_number=meeting, status=status,
                        meeting_date=dates[meeting - 1])


def build_school() -> School:
    budi = make_user("instructor", full_name="Budi Santoso")
    rina = make_user("instructor", full_name="Rina Wijaya")
    staff = make_user("staff", full_name="Sari Staf")
    class_a = make_class(instructor=budi, name="Python Sabtu", total_meetings=10)
    class_b = make_class(instructor=rina, name="Scratch Minggu", total_meetings=8)
    andi = make_user("student", full_name="Andi Pratama", email="andi@example.com")
    siti = make_user("student", full_name="Siti Aisyah", email="siti@example.com")
    nguyen = make_user("student", full_name="Nguyễn Văn Ân", email="nguyen@example.com")
    dewi = make_user("student", full_name="=HYPERLINK(\"x\") Dewi", email="dewi@example.com")
    andi_a, siti_a, nguyen_a = (make_enrollment(class_a, s) for s in (andi, siti, nguyen))
    dewi_b, andi_b = (make_enrollment(class_b, s) for s in (dewi, andi))
    _take(budi, class_a, A_DATES, {andi_a: "present", siti_a: "present", nguyen_a: "absent"}, 1)
    credits.adjust(staff, andi_a, adjustment=1, reason="bonus")
    _take(budi, class_a, A_DATES, {andi_a: "absent", siti_a: "present", nguyen_a: "absent"}, 2)
    _take(budi, class_a, A_DATES, {andi_a: "late", siti_a: "present", nguyen_a: "present"}, 3)
    credits.adjust(staff, siti_a, adjustment=1, reason="refund")
    _take(rina, class_b, B_DATES, {dewi_b: "present", andi_b: "late"}, 1)
    _take(rina, class_b, B_DATES, {dewi_b: "present", andi_b: "absent"}, 2)
    return School(budi, rina, staff, class_a, class_b, andi_a, siti_a, nguyen_a, dewi_b, andi_b)


# (class, meeting, student email) -> (status, credits remaining after)
EXPECTED = {
    ("Python Sabtu", 1, "andi@example.com"): ("present", 9),
    ("Python Sabtu", 1, "siti@example.com"): ("present", 9),
    ("Python Sabtu", 1, "nguyen@example.com"): ("absent", 10),
    ("Python Sabtu", 2, "andi@example.com"): ("absent", 10),  # the bonus came before meeting 2
    ("Python Sabtu", 2, "siti@example.com"): ("present", 8),
    ("Python Sabtu", 2, "nguyen@example.com"): ("absent", 10),
    ("Python Sabtu", 3, "andi@example.com"): ("late", 9),
    ("Python Sabtu", 3, "siti@example.com"): ("present", 7),  # the refund came after meeting 3
    ("Python Sabtu", 3, "nguyen@example.com"): ("present", 9),
    ("Scratch Minggu", 1, "dewi@example.com"): ("present", 7),
    ("Scratch Minggu", 1, "andi@example.com"): ("late", 7),
    ("Scratch Minggu", 2, "dewi@example.com"): ("present", 6),
    ("Scratch Minggu", 2, "andi@example.com"): ("absent", 7),
}
