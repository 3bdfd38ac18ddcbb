"""What differs between a group class and a private class, each kind in one object.

Services and templates ask the rules of a class (`rules_for(school_class)`)
instead of switching on `school_class.type`:

- group: a shared package, a fixed number of seats and an enrollment deadline;
  it opens for enrollment before it starts, and once running its package no
  longer changes; a running or finished group can be continued for one of its
  students as a private class.
- private: one seat, no deadline; it starts when staff say so, takes its
  student while a draft or running, and may add meetings at any time.

In both, added meetings are added credits for every active student (see
`credits.package_changed`).
"""
from __future__ import annotations

from datetime import date

from flask_babel import gettext as _

from babyowl.models import CLASS_TYPES, SchoolClass
from babyowl.services.errors import InvalidInput
from babyowl.services.school_time import school_today


class ClassRules:
    type: str
    # A paid top-up (services/payments.request_top_up) may add meetings to its one student's package.
    sells_meetings: bool = False
    transitions: dict[str, tuple[str, ...]]
    enrollable: tuple[str, ...]
    package_changes_while: tuple[str, ...]

    def next_statuses(self, school_class: SchoolClass) -> tuple[str, ...]:
        return self.transitions.get(school_class.status, ())

    def may_become(self, school_class: SchoolClass, status: str) -> bool:
        return status in self.next_statuses(school_class)

    def enrollment_refusal(self, school_class: SchoolClass) -> str | None:
        """Why a new student cannot join now, or None when they can."""
        raise NotImplementedError

    def can_continue(self, school_class: SchoolClass) -> bool:
        """Whether a student of this class may go on in a private class of their own."""
        return False

    def package_refusal(self, school_class: SchoolClass) -> str | None:
        """Why the number of meetings cannot change now, or None when it can."""
        if school_class.status in self.package_changes_while:
            return None
        return _("A group class that has started keeps its package of %(n)d meetings.", n=school_class.total_meetings)

    def credits_after_package_change(self, meeting_credits: int, added: int) -> int:
        # Every student keeps the package of the class: added meetings are added credits.
        return max(0, meeting_credits + added)

    def seats(self, max_capacity: int | None) -> int:
        raise NotImplementedError

    def enrollment_deadline(self, deadline: date | None) -> date | None:
        raise NotImplementedError


class GroupRules(ClassRules):
    type = "group"
    transitions = {"draft": ("enrollment_open", "cancelled"), "enrollment_open": ("active", "cancelled"),
                   "active": ("completed", "cancelled")}
    enrollable = ("draft", "enrollment_open")
    package_changes_while = ("draft", "enrollment_open")

    def enrollment_refusal(self, school_class: SchoolClass) -> str | None:
        if school_class.status not in self.enrollable:
            return _("This class has already started or ended; new students cannot join.")
        if school_class.enrollment_deadline and school_today() > school_class.enrollment_deadline:
            return _("The enrollment deadline of this class has passed.")
        return None

    def can_continue(self, school_class: SchoolClass) -> bool:
        return school_class.status in ("active", "completed")

    def seats(self, max_capacity: int | None) -> int:
        if not max_capacity or max_capacity < 1:
            raise InvalidInput(_("A group class needs a capacity of at least 1 student."))
        return max_capacity

    def enrollment_deadline(self, deadline: date | None) -> date | None:
        if deadline is None:
            raise InvalidInput(_("A group class needs an enrollment deadline."))
        return deadline


class PrivateRules(ClassRules):
    type = "private"
    sells_meetings = True
    transitions = {"draft": ("active", "cancelled"), "active": ("completed", "cancelled")}
    enrollable = ("draft", "active")

    def package_refusal(self, school_class: SchoolClass) -> str | None:
        return None  # meetings may be added whenever the student wants more

    def enrollment_refusal(self, school_class: SchoolClass) -> str | None:
        return None if school_class.status in self.enrollable else _("This class has ended.")

    def seats(self, max_capacity: int | None) -> int:
        return 1

    def enrollment_deadline(self, deadline: date | None) -> date | None:
        return None  # a private class starts when its student is ready


RULES: dict[str, ClassRules] = {rules.type: rules for rules in (GroupRules(), PrivateRules())}
assert set(RULES) == set(CLASS_TYPES)


def rules_for(school_class_or_type: SchoolClass | str) -> ClassRules:
    kind = school_class_or_type if isinstance(school_class_or_type, str) else school_class_or_type.type
    try:
        return RULES[kind]
    except KeyError:
        raise InvalidInput(_("Choose group or private.")) from None


PRIVATE = RULES["private"]
