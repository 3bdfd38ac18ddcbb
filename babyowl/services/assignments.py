"""Assignments: students hand in a file, text or a link; the class's instructor grades or returns the work.

Every hand-in is a new version; older versions stay. Files go to the storage
module under a random key and are only ever served as downloads, to the
student, the instructors of the student's classes on that course, staff and
super_admin.
"""
from __future__ import annotations

import os
import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import BinaryIO
from urllib.parse import urlsplit

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from babyowl.authz import GRADERS, is_staff
from babyowl.exercise_types.assignment import AssignmentType
from babyowl.extensions import db
from babyowl.models import (
    AssignmentSubmission, ClassEnrollment, Exercise, Lesson, SchoolClass, Section, User,
)
from babyowl.models.base import utcnow
from babyowl.services.classes import ClassNotFound
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.learning import Place
from babyowl.services import xp
from babyowl.services.uploads import use_case_owning_files
from babyowl.transactions import use_case
from babyowl.services.progress import locked_progress, refresh_counters, set_completed
from babyowl.storage import get_storage, new_key

MAX_TEXT = 50_000
MAX_COMMENT = 5_000
MAX_FEEDBACK = 10_000
MAX_LINK = 500
GRADING_STATUSES = ("graded", "returned")

# What a file must start with, for the types that have a signature. Text types
# must be UTF-8 without NUL bytes; other types are stored as they come (they
# are only ever downloaded, never shown in the page).
SIGNATURES = {
    ".pdf": (b"%PDF-",),
    ".zip": (b"PK\x03\x04", b"PK\x05\x06"),
    ".docx": (b"PK\x03\x04",), ".xlsx": (b"PK\x03\x04",), ".pptx": (b"PK\x03\x04",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",), ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
}
TEXT_TYPES = {".py", ".txt", ".md", ".csv", ".json", ".ipynb", ".html", ".css", ".js", ".sql", ".xml", ".yaml",
              ".yml"}
CONTENT_TYPES = {".pdf": "application/pdf", ".zip": "application/zip", ".png": "image/png", ".jpg": "image/jpeg",
                 ".jpeg": "image/jpeg", ".gif": "image/gif", ".csv": "text/csv", ".json": "application/json",
                 ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                 ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation"}


class AlreadyGraded(DomainError):
    pass


class VersionConflict(DomainError):
    pass


@dataclass(frozen=True)
class Upload:
    filename: str
    stream: BinaryIO


def _size(stream: BinaryIO) -> int:
    stream.seek(0, os.SEEK_END)
    size = stream.tell()
    stream.seek(0)
    return size


def clean_file_name(name: str) -> str:
    """The name the student's computer gave, without folders or control characters, at most 255 characters."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = "".join(c for c in unicodedata.normalize("NFC", name) if c.isprintable()).strip()
    return name[-255:] or "file"


def _extension(name: str) -> str:
    return ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""


def check_file(upload: Upload | None, content: dict) -> tuple[str, str, int, str]:
    """(extension, content type, size, clean name) of an acceptable upload, else InvalidInput."""
    if upload is None or not upload.filename:
        raise InvalidInput(_("Choose the file to hand in."))
    allowed = content.get("allowedFileTypes") or []
    name = clean_file_name(upload.filename)
    extension = _extension(name)
    if extension not in allowed:
        raise InvalidInput(_("This file type is not accepted here. Allowed: %(types)s.", types=", ".join(allowed)))
    size = _size(upload.stream)
    limit_mb = content.get("maxFileSizeMb") or 10
    if size == 0:
        raise InvalidInput(_("The file is empty."))
    if size > limit_mb * 1024 * 1024:
        raise InvalidInput(_("The file is larger than %(max)d MB.", max=limit_mb))
    head = upload.stream.read(4096)
    upload.stream.seek(0)
    if extension in SIGNATURES and not head.startswith(SIGNATURES[extension]):
        raise InvalidInput(_("This file is not a real %(ext)s file.", ext=extension))
    if extension in TEXT_TYPES:
        data = upload.stream.read()
        upload.stream.seek(0)
        try:
            decoded = data.decode("utf-8")
        except UnicodeDecodeError:
            decoded = "\x00"
        if "\x00" in decoded:
            raise InvalidInput(_("This file is not a text file (%(ext)s).", ext=extension))
        content_type = "text/plain; charset=utf-8" if extension not in CONTENT_TYPES else CONTENT_TYPES[extension]
    else:
        content_type = CONTENT_TYPES.get(extension, "application/octet-stream")
    return extension, content_type, size, name


def _check_link(link: str | None) -> str:
    link = (link or "").strip()
    if not link:
        raise InvalidInput(_("Give the link to your work."))
    try:
        parts = urlsplit(link)
    except ValueError:
        parts = None
    if len(link) > MAX_LINK or parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc \
            or any(c.isspace() for c in link):
        raise InvalidInput(_("Give a web address starting with http:// or https:// (at most %(max)d characters).",
                             max=MAX_LINK))
    return link


def latest_submission(student_id: uuid.UUID, exercise_id: uuid.UUID) -> AssignmentSubmission | None:
    return db.session.scalars(select(AssignmentSubmission).where(
        AssignmentSubmission.student_id == student_id, AssignmentSubmission.exercise_id == exercise_id)
        .order_by(AssignmentSubmission.version.desc()).limit(1)).first()


def submit(student: User, place: Place, *, kind: str, upload: Upload | None = None, text: str | None = None,
           link: str | None = None, comment: str | None = None) -> AssignmentSubmission:
    """Hand in a new version of the work (one use case; a file stored for a refused hand-in is deleted)."""
    with use_case_owning_files("submit_assignment") as new_files:
        exercise = place.exercise
        if exercise.type != AssignmentType.name:
            raise InvalidInput(_("This exercise is not an assignment."))
        content = exercise.content
        if kind not in (content.get("submissionTypes") or []):
            raise InvalidInput(_("Choose how to hand in your work."))
        comment = (comment or "").strip() or None
        if comment and len(comment) > MAX_COMMENT:
            raise InvalidInput(_("Keep the comment to at most %(max)d characters.", max=MAX_COMMENT))
        submission = AssignmentSubmission(exercise_id=exercise.id, student_id=student.id, type=kind,
                                          comment=comment, status="pending", max_grade=content.get("maxGrade"))
        if kind == "file":
            extension, content_type, size, name = check_file(upload, content)
            key = new_key(f"submissions/{exercise.id.hex}", extension)
            get_storage().save(key, upload.stream, content_type)
            new_files.append(key)
            submission.file_url, submission.file_name, submission.file_size = key, name, size
        elif kind == "text":
            text = (text or "").strip()
            if not text:
                raise InvalidInput(_("Write your answer."))
            if len(text) > MAX_TEXT:
                raise InvalidInput(_("Keep the text to at most %(max)d characters.", max=MAX_TEXT))
            submission.text_content = text
        else:
            submission.link_url = _check_link(link)

        progress = locked_progress(student.id, exercise.id)
        latest = latest_submission(student.id, exercise.id)
        if latest is not None and latest.status == "graded":
            raise AlreadyGraded(_("Your work has been graded, so it cannot be handed in again."))
        submission.version = (latest.version + 1) if latest else 1
        db.session.add(submission)
        try:
            db.session.flush()
        except IntegrityError as exc:  # the version numbering is the database's last guard
            raise VersionConflict(_("This work was already handed in from another tab. Reload the page.")) from exc
        set_completed(progress, AssignmentType.completed_by_submission(submission.status))
        refresh_counters(student.id, place.lesson)
    return submission


# ---------------------------------------------------------------------------
# Who may see and grade

def _course_of(exercise: Exercise) -> uuid.UUID:
    return exercise.lesson.section.course_id


def teaches(actor: User, student_id: uuid.UUID, exercise: Exercise) -> bool:
    """Whether `actor` instructs a class on the exercise's course that the student is (or was) in."""
    if actor.role != "instructor":
        return False
    return bool(db.session.scalar(select(func.count()).select_from(ClassEnrollment).join(SchoolClass).where(
        SchoolClass.instructor_id == actor.id, SchoolClass.course_id == _course_of(exercise),
        ClassEnrollment.student_id == student_id, ClassEnrollment.status != "withdrawn")))


def can_grade(actor: User, submission: AssignmentSubmission) -> bool:
    return actor.role == "super_admin" or teaches(actor, submission.student_id, submission.exercise)


def may_see(actor: User, submission: AssignmentSubmission) -> bool:
    if is_staff(actor) or actor.id == submission.student_id:
        return True
    return teaches(actor, submission.student_id, submission.exercise)


def submission_for(actor: User, submission_id: uuid.UUID) -> AssignmentSubmission:
    """The submission if `actor` may see it; to anyone else it does not exist."""
    submission = db.session.get(AssignmentSubmission, submission_id)
    if submission is None or not may_see(actor, submission):
        raise ClassNotFound(_("This submission does not exist."))
    return submission


def submitted_file(actor: User, submission_id: uuid.UUID) -> AssignmentSubmission:
    """A handed-in file, for someone who may see the submission; a text or link hand-in has none (404)."""
    submission = submission_for(actor, submission_id)
    if not submission.file_url:
        raise ClassNotFound(_("This submission has no file."))
    return submission


def versions(submission: AssignmentSubmission) -> list[AssignmentSubmission]:
    """Every version the student handed in for this assignment, newest first."""
    return list(db.session.scalars(select(AssignmentSubmission).options(joinedload(AssignmentSubmission.grader))
                                   .where(AssignmentSubmission.student_id == submission.student_id,
                                          AssignmentSubmission.exercise_id == submission.exercise_id)
                                   .order_by(AssignmentSubmission.version.desc())))


@dataclass(frozen=True)
class QueueRow:
    submission: AssignmentSubmission
    school_class: SchoolClass


def grading_queue(actor: User, *, class_id: uuid.UUID | None = None, status: str = "pending",
                  page: int = 1):
    """The latest version of each student's work in the actor's classes, oldest first."""
    from babyowl.services.listing import PER_PAGE, Page

    if actor.role not in GRADERS:
        raise NotAllowed(_("Only instructors grade assignments."))
    newest = (select(AssignmentSubmission.student_id, AssignmentSubmission.exercise_id,
                     func.max(AssignmentSubmission.version).label("version"))
              .group_by(AssignmentSubmission.student_id, AssignmentSubmission.exercise_id).subquery())
    query = (select(AssignmentSubmission, SchoolClass)
             .join(newest, (newest.c.student_id == AssignmentSubmission.student_id)
                   & (newest.c.exercise_id == AssignmentSubmission.exercise_id)
                   & (newest.c.version == AssignmentSubmission.version))
             .join(Exercise, Exercise.id == AssignmentSubmission.exercise_id).join(Lesson).join(Section)
             .join(SchoolClass, SchoolClass.course_id == Section.course_id)
             .join(ClassEnrollment, (ClassEnrollment.class_id == SchoolClass.id)
                   & (ClassEnrollment.student_id == AssignmentSubmission.student_id)
                   & (ClassEnrollment.status != "withdrawn"))
             .options(joinedload(AssignmentSubmission.student), joinedload(AssignmentSubmission.exercise))
             .order_by(AssignmentSubmission.submitted_at, AssignmentSubmission.id))
    if actor.role == "instructor":
        query = query.where(SchoolClass.instructor_id == actor.id)
    if class_id:
        query = query.where(SchoolClass.id == class_id)
    if status in ("pending", "graded", "returned"):
        query = query.where(AssignmentSubmission.status == status)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    pages = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), pages)
    rows = [QueueRow(s, c) for s, c in db.session.execute(query.limit(PER_PAGE).offset((page - 1) * PER_PAGE))]
    return Page(items=rows, page=page, per_page=PER_PAGE, total=total)


def grading_classes(actor: User) -> list[SchoolClass]:
    """The classes whose work `actor` grades, for the queue's filter."""
    query = select(SchoolClass).order_by(SchoolClass.name)
    if actor.role != "super_admin":
        query = query.where(SchoolClass.instructor_id == actor.id)
    return list(db.session.scalars(query))


@use_case
def grade(actor: User, submission: AssignmentSubmission, *, status: str, grade_value: int | None,
          feedback: str | None) -> AssignmentSubmission:
    """Grade the latest version (out of the assignment's maximum) or return it for another try; tell the student."""
    if not can_grade(actor, submission):
        raise NotAllowed(_("Only the instructor of the student's class grades this work."))
    if status not in GRADING_STATUSES:
        raise InvalidInput(_("Choose “graded” or “returned”."))
    max_grade = submission.exercise.content.get("maxGrade") or submission.max_grade or 100
    feedback = (feedback or "").strip() or None
    if feedback and len(feedback) > MAX_FEEDBACK:
        raise InvalidInput(_("Keep the feedback to at most %(max)d characters.", max=MAX_FEEDBACK))
    if status == "graded" and grade_value is None:
        raise InvalidInput(_("Give a grade from 0 to %(max)d.", max=max_grade))
    if grade_value is not None and not 0 <= grade_value <= max_grade:
        raise InvalidInput(_("Give a grade from 0 to %(max)d.", max=max_grade))
    if status == "returned" and not feedback:
        raise InvalidInput(_("Say what the student should change before handing it in again."))

    progress = locked_progress(submission.student_id, submission.exercise_id)
    db.session.refresh(submission)
    latest = latest_submission(submission.student_id, submission.exercise_id)
    if latest is not None and latest.id != submission.id:
        raise DomainError(_("The student has handed in a newer version (%(n)d); grade that one.", n=latest.version))
    submission.status, submission.grade, submission.max_grade = status, grade_value, max_grade
    submission.feedback, submission.graded_by, submission.graded_at = feedback, actor.id, utcnow()
    set_completed(progress, AssignmentType.completed_by_submission(status))
    class_id = xp.class_for_work(submission.student_id, submission.exercise.lesson)
    if status == "graded":  # the best grade so far minus what was already earned, never negative
        xp.for_grade(submission.student_id, submission.exercise_id, grade_value, max_grade, class_id)
    refresh_counters(submission.student_id, submission.exercise.lesson, class_id=class_id)
    _tell_student(submission)
    return submission


def _tell_student(submission: AssignmentSubmission) -> None:
    from babyowl.services.notifications import notify

    exercise = submission.exercise
    if submission.status == "graded":
        title = _("Graded: %(title)s", title=exercise.title)
        message = _("Your work on “%(title)s” was graded %(grade)d of %(max)d.", title=exercise.title,
                    grade=submission.grade, max=submission.max_grade)
    else:
        title = _("Returned: %(title)s", title=exercise.title)
        message = _("Your work on “%(title)s” was returned: read the feedback and hand it in again.",
                    title=exercise.title)
    if submission.feedback:
        message += "\n\n" + submission.feedback
    notify([submission.student], kind=f"assignment_{submission.status}", title=title[:255], message=message,
           reference_id=submission.id)
