"""The rules of each class type, asked by services and templates instead of switching on the type."""
from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from babyowl.models import SchoolClass
from babyowl.services.class_rules import RULES, rules_for
from babyowl.services.errors import InvalidInput

PACKAGE = Path(__file__).resolve().parent.parent.parent / "babyowl"


def a_class(type_: str, status: str, deadline: date | None = None) -> SchoolClass:
    return SchoolClass(type=type_, status=status, enrollment_deadline=deadline, total_meetings=10)


@pytest.mark.parametrize("type_, status, enrollable", [
    ("group", "draft", True), ("group", "enrollment_open", True), ("group", "active", False),
    ("private", "draft", True), ("private", "active", True), ("private", "completed", False),
])
def test_who_may_still_join(app, type_, status, enrollable):
    with app.test_request_context():
        assert (rules_for(type_).enrollment_refusal(a_class(type_, status)) is None) is enrollable


def test_a_group_past_its_deadline_takes_no_one(app):
    with app.test_request_context():
        late = a_class("group", "enrollment_open", date.today() - timedelta(days=30))
        assert "deadline" in rules_for(late).enrollment_refusal(late)


def test_transitions_continuation_and_package_changes():
    group, private = RULES["group"], RULES["private"]
    assert group.next_statuses(a_class("group", "draft")) == ("enrollment_open", "cancelled")
    assert private.next_statuses(a_class("private", "draft")) == ("active", "cancelled")
    assert not private.may_become(a_class("private", "draft"), "enrollment_open")
    assert [group.can_continue(a_class("group", s)) for s in ("draft", "active", "completed")] == [False, True, True]
    assert not private.can_continue(a_class("private", "active"))
    assert private.package_refusal(a_class("private", "active")) is None
    assert group.package_refusal(a_class("group", "enrollment_open")) is None
    assert group.credits_after_package_change(10, 5) == 15 and group.credits_after_package_change(3, -5) == 0


def test_seats_and_deadlines(app):
    with app.test_request_context():
        assert RULES["private"].seats(8) == 1 and RULES["private"].enrollment_deadline(date.today()) is None
        with pytest.raises(InvalidInput, match="enrollment deadline"):
            RULES["group"].enrollment_deadline(None)
        with pytest.raises(InvalidInput, match="Choose group or private"):
            rules_for("workshop")


def test_no_service_or_template_of_classes_switches_on_the_class_type():
    """The rule is written once: `templates/classes/show.html` restated the continuation rule."""
    switch = re.compile(r"""type\s*[!=]=\s*["'](group|private)["']""")
    files = [PACKAGE / "services" / name for name in ("classes.py", "credits.py", "attendance_reports.py")]
    files += sorted((PACKAGE / "templates" / "classes").glob("*.html"))
    files += sorted((PACKAGE / "templates" / "credits").glob("*.html"))
    files += sorted((PACKAGE / "templates" / "reports").glob("*.html"))
    found = [f"{path.name}:{n}" for path in files for n, line in enumerate(path.read_text().splitlines(), 1)
             if switch.search(line)]
    assert found == []
