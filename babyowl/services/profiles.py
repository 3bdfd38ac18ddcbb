"""Who may see a student's achievements, and what: level and badges for classmates, history for the rest.

A student's profile (`/users/<id>`) with level and badges is seen by the
student, their classmates (a class both are in, not withdrawn), the
instructors of their classes, and staff. The XP history (with staff's notes)
only by the student, their instructors and staff. To anyone else the page
does not exist (404).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from babyowl.authz import is_staff
from babyowl.extensions import db
from babyowl.models import ClassEnrollment, SchoolClass, User, UserBadge, XPTransaction
from babyowl.services import badges, streaks, xp
from babyowl.services.users import UserNotFound


def _teaches(viewer: User, student_id: uuid.UUID) -> bool:
    return viewer.role == "instructor" and bool(db.session.scalar(
        select(func.count()).select_from(ClassEnrollment).join(SchoolClass).where(
            SchoolClass.instructor_id == viewer.id, ClassEnrollment.student_id == student_id,
            ClassEnrollment.status != "withdrawn")))


def _classmates(viewer: User, student_id: uuid.UUID) -> bool:
    if viewer.role != "student":
        return False
    other = aliased(ClassEnrollment)
    return bool(db.session.scalar(
        select(func.count()).select_from(ClassEnrollment).join(other, and_(
            other.class_id == ClassEnrollment.class_id, other.student_id == student_id,
            other.status != "withdrawn"))
        .where(ClassEnrollment.student_id == viewer.id, ClassEnrollment.status != "withdrawn")))


def sees_history(viewer: User, student: User) -> bool:
    return viewer.id == student.id or is_staff(viewer) or _teaches(viewer, student.id)


def may_see(viewer: User, student: User) -> bool:
    return sees_history(viewer, student) or _classmates(viewer, student.id)


def student_profile(viewer: User, user_id: uuid.UUID) -> User:
    """The student whose achievements `viewer` may see; 404 otherwise."""
    user = db.session.get(User, user_id)
    if user is None or user.role != "student" or user.erased_at is not None or not may_see(viewer, user):
        raise UserNotFound(_("This page does not exist."))
    return user


@dataclass
class Panel:
    student: User
    standing: xp.Standing
    streak: streaks.Streak
    badges: list[UserBadge]
    history: list[XPTransaction] | None
    can_share: bool
    bonus_form: Any = None


def panel_for(viewer: User, student: User, bonus_form=None) -> Panel | None:
    if student.role != "student" or not may_see(viewer, student):
        return None
    history = xp.history(student.id) if sees_history(viewer, student) else None
    return Panel(student, xp.standing(student.id), streaks.streak_for(student.id), badges.badges_of(student.id),
                 history, can_share=viewer.id == student.id or is_staff(viewer),
                 bonus_form=bonus_form if is_staff(viewer) else None)


def student_to_follow(viewer: User, user_id: uuid.UUID) -> User:
    """The student whose XP history `viewer` may read (the student, their instructors, staff): a classmate, who
    sees the level and badges but not the history, is refused (403); anyone else finds no such student (404)."""
    from babyowl.services.errors import NotAllowed

    student = student_profile(viewer, user_id)
    if not sees_history(viewer, student):
        raise NotAllowed(_("Only the student, their instructors and staff see their XP history."))
    return student
