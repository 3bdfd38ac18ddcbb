"""The student's home (dashboard): what to do next and how far they have come, on one phone screen.

Read-only. Per active class: the next lesson to do (the first unlocked lesson
not completed) with its one button, the next meeting and the credits left;
then level, XP bar, streaks, recent badges. Announcements come from their own
area (the dashboard's include). A fixed number of queries whatever the
student's history.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from babyowl.models import ClassEnrollment, Lesson, SchoolClass, User, UserBadge
from babyowl.services import badges, progress, streaks, xp


@dataclass
class ClassCard:
    enrollment: ClassEnrollment
    next_lesson: Lesson | None
    next_meeting: date | None
    lessons_completed: int
    lessons_open: int

    @property
    def school_class(self) -> SchoolClass:
        return self.enrollment.school_class


@dataclass
class StudentHome:
    student: User
    standing: xp.Standing
    streak: streaks.Streak
    cards: list[ClassCard] = field(default_factory=list)
    recent_badges: list[UserBadge] = field(default_factory=list)

    @property
    def next_step(self) -> ClassCard | None:
        """The one button at the top: the first class with a lesson waiting."""
        return next((card for card in self.cards if card.next_lesson is not None), None)


def home_for(student: User) -> StudentHome:
    from babyowl.services.classes import next_meeting_day

    cards = []
    for mine in progress.student_progress(student):
        if mine.enrollment.status != "active":
            continue
        cards.append(ClassCard(mine.enrollment, mine.next_lesson, next_meeting_day(mine.enrollment.school_class),
                               mine.lessons_completed, sum(1 for cell in mine.lessons if cell.unlocked)))
    return StudentHome(student, xp.standing(student.id), streaks.streak_for(student.id), cards,
                       badges.badges_of(student.id, limit=3))
