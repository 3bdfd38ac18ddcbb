"""Request and response bodies of the JSON API: Pydantic DTOs, built from ORM objects, never the objects themselves."""
from __future__ import annotations

import uuid
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, EmailStr, Field

from babyowl.blueprints.api.core import ApiModel

Role = Literal["student", "instructor", "staff", "super_admin"]
MarkStatus = Literal["present", "late", "absent"]


# --- Auth ------------------------------------------------------------------------------------------------------

class LoginIn(ApiModel):
    email: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1, max_length=500)


class RegisterIn(ApiModel):
    email: EmailStr = Field(max_length=255)
    full_name: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1, max_length=500)


class EmailIn(ApiModel):
    email: str = Field(min_length=1, max_length=255)


class ResetPasswordIn(ApiModel):
    token: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(min_length=1, max_length=500)


class ChangePasswordIn(ApiModel):
    current_password: str = Field(min_length=1, max_length=500)
    new_password: str = Field(min_length=1, max_length=500)


class UserOut(ApiModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    status: str
    email_verified: bool
    language: str | None = None


class TokensOut(ApiModel):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    user: UserOut


class Done(ApiModel):
    done: bool = True
    message: str | None = None


# --- Catalog ---------------------------------------------------------------------------------------------------

class CourseOut(ApiModel):
    id: uuid.UUID
    title: str
    slug: str
    code: str | None = None
    description: str
    category: str | None = None
    level: str | None = None
    language: str
    estimated_duration: int | None = None
    status: str
    lesson_count: int | None = None


class LessonTitleOut(ApiModel):
    id: uuid.UUID
    title: str
    order_index: int


class SectionOut(ApiModel):
    id: uuid.UUID
    title: str
    order_index: int
    lessons: list[LessonTitleOut]


class CourseDetailOut(CourseOut):
    sections: list[SectionOut]


class CatalogQuery(ApiModel):
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, max_length=500)
    q: str = Field("", max_length=200)
    category: str = Field("", max_length=100)
    level: str = Field("", max_length=50)


# --- Classes ---------------------------------------------------------------------------------------------------

class ClassOut(ApiModel):
    id: uuid.UUID
    name: str
    type: str
    status: str
    course_id: uuid.UUID
    course_title: str | None = None
    instructor_id: uuid.UUID | None = None
    instructor_name: str | None = None
    total_meetings: int
    meetings_completed: int
    lessons_unlocked: int
    max_capacity: int | None = None
    current_capacity: int
    start_date: date | None = None
    end_date: date | None = None
    enrollment_deadline: date | None = None


class ClassesQuery(ApiModel):
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, max_length=500)
    status: Literal["", "draft", "enrollment_open", "active", "completed", "cancelled"] = ""
    type: Literal["", "group", "private"] = ""
    instructor_id: uuid.UUID | None = None
    course_id: uuid.UUID | None = None


class ContinueIn(ApiModel):
    """A private class for one student of a group class, on the same course, from where the group stopped."""

    student_id: uuid.UUID = Field(description="A student who was in the group class.")
    name: str = Field(min_length=1, max_length=255)
    instructor_id: uuid.UUID | None = None
    total_meetings: int | None = Field(None, ge=1, le=200, description="Default: the lessons the group has left.")
    start_date: date | None = None


class EnrollmentOut(ApiModel):
    id: uuid.UUID
    class_id: uuid.UUID
    student_id: uuid.UUID
    student_name: str | None = None
    status: str
    meeting_credits: int
    credits_used: int
    credits_remaining: int
    attendance_rate: Decimal | None = None
    lessons_completed: int
    exercises_completed: int
    payment_status: str
    enrolled_at: datetime


class EnrollIn(ApiModel):
    student_id: uuid.UUID | None = None
    full_name: str = Field("", max_length=255)
    email: str = Field("", max_length=255)
    paid_at_desk: str | None = Field(None, max_length=30, description=(
        "Rupiah paid at the school's desk, e.g. \"1.500.000\": the enrollment's invoice is verified with it. "
        "Without it the student gets an invoice to pay by transfer."))


class LessonOut(ApiModel):
    id: uuid.UUID
    title: str
    order_index: int
    section_id: uuid.UUID


# --- Attendance and credits ------------------------------------------------------------------------------------

class MarkIn(ApiModel):
    enrollment_id: uuid.UUID
    status: MarkStatus
    note: str | None = Field(None, max_length=500)


class TakeAttendanceIn(ApiModel):
    meeting_number: int = Field(ge=1, le=200)
    meeting_date: date | None = None
    marks: list[MarkIn] = Field(min_length=1, max_length=200)


class IdempotencyHeaders(ApiModel):
    idempotency_key: uuid.UUID | None = Field(
        None, alias="Idempotency-Key",
        description="A UUID chosen by the client for this request: sent again, the request changes nothing.")


class AttendanceOut(ApiModel):
    id: uuid.UUID
    enrollment_id: uuid.UUID
    student_id: uuid.UUID | None = None
    meeting_number: int
    meeting_date: date
    status: MarkStatus
    credit_deducted: bool
    notes: str | None = None
    marked_at: datetime
    updated_at: datetime | None = None


class TakeAttendanceOut(ApiModel):
    meeting_number: int
    changed: int
    replayed: bool
    marks: list[AttendanceOut]


class AttendanceQuery(ApiModel):
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, max_length=500)
    meeting_number: int | None = Field(None, ge=1, le=200)


class CorrectMarkIn(ApiModel):
    enrollment_id: uuid.UUID
    status: MarkStatus
    reason: str | None = Field(None, max_length=500)


class ReportQuery(ApiModel):
    format: Literal["csv", "pdf"] = "csv"


class CreditsOut(ApiModel):
    enrollment_id: uuid.UUID
    meeting_credits: int
    credits_used: int
    credits_remaining: int
    out_of_credits: bool
    adds_up: bool


class AdjustIn(ApiModel):
    adjustment: int = Field(ge=-200, le=200)
    reason: str = Field(min_length=1, max_length=100)
    detail: str | None = Field(None, max_length=500)
    above_package_confirmed: bool = False


class AdjustmentOut(ApiModel):
    id: uuid.UUID
    enrollment_id: uuid.UUID
    adjustment: int
    credits_before: int
    credits_after: int
    reason: str
    reason_detail: str | None = None
    adjusted_at: datetime


class LedgerEntryOut(ApiModel):
    id: uuid.UUID | None = Field(None, description="The mark change's or the adjustment's id.")
    at: datetime
    by_name: str | None = None
    used_change: int
    used_after: int
    meeting_number: int | None = None
    old_status: str | None = None
    new_status: str | None = None
    adjustment: int | None = None
    reason: str | None = None


# --- Progress --------------------------------------------------------------------------------------------------

class LessonProgressOut(ApiModel):
    lesson_id: uuid.UUID
    title: str
    unlocked: bool
    exercises_done: int
    exercises_total: int
    completed: bool


class MyClassProgressOut(ApiModel):
    enrollment_id: uuid.UUID
    class_id: uuid.UUID
    class_name: str
    lessons_completed: int
    exercises_completed: int
    exercises_total: int
    lessons: list[LessonProgressOut]


class StudentProgressOut(ApiModel):
    enrollment_id: uuid.UUID
    student_id: uuid.UUID
    student_name: str
    lessons_completed: int
    exercises_completed: int


class ClassProgressOut(ApiModel):
    class_id: uuid.UUID
    lessons: list[LessonTitleOut]
    students: list[StudentProgressOut]


# --- Quizzes, assignments, coding ------------------------------------------------------------------------------

class QuizOptionOut(ApiModel):
    id: str
    text: str


class QuizQuestionOut(ApiModel):
    id: str
    type: str
    text: str
    points: int
    options: list[QuizOptionOut]


class QuizOut(ApiModel):
    exercise_id: uuid.UUID
    title: str
    attempts_used: int
    attempts_allowed: int | None = None
    passed: bool
    questions: list[QuizQuestionOut]


class QuizAnswersIn(ApiModel):
    answers: dict[str, list[str]] = Field(
        description="Question id -> the chosen option ids (or the typed answer as a one-item list).",
        max_length=200)


class QuizAttemptOut(ApiModel):
    id: uuid.UUID
    attempt_number: int
    score: int
    max_score: int
    passed: bool | None = None


class QuizResultOut(QuizAttemptOut):
    review: list[dict]


class AssignmentForm(ApiModel):
    kind: Literal["file", "text", "link"]
    text: str | None = Field(None, max_length=100_000)
    link: str | None = Field(None, max_length=500)
    comment: str | None = Field(None, max_length=2000)
    file: Any = Field(None, json_schema_extra={"type": "string", "format": "binary"},
                                description="The work itself, when `kind` is `file`.")


class AssignmentSubmissionOut(ApiModel):
    id: uuid.UUID
    exercise_id: uuid.UUID
    student_id: uuid.UUID
    type: str
    version: int
    status: str
    file_name: str | None = None
    file_size: int | None = None
    text_content: str | None = None
    link_url: str | None = None
    comment: str | None = None
    grade: int | None = None
    max_grade: int | None = None
    feedback: str | None = None
    submitted_at: datetime
    graded_at: datetime | None = None


class GradeIn(ApiModel):
    status: Literal["graded", "returned"]
    grade: int | None = Field(None, ge=0, le=100_000)
    feedback: str | None = Field(None, max_length=10_000)


class CodingExerciseOut(ApiModel):
    exercise_id: uuid.UUID
    title: str
    content: dict = Field(description="What the coding page may know: never the hidden tests nor the solution "
                                      "(the solution is given to staff and instructors only).")
    solution: str | None = None


class CodeIn(ApiModel):
    code: str = Field(min_length=1, max_length=100_000)


class CodingSubmissionOut(ApiModel):
    id: uuid.UUID
    exercise_id: uuid.UUID
    user_id: uuid.UUID
    attempt_number: int
    graded: bool
    passed: bool
    score: int | None = None
    max_score: int | None = None
    created_at: datetime


class CodingResultOut(CodingSubmissionOut):
    code: str
    results: list[dict]
    hidden_passed: int
    hidden_total: int
    execution_time: int | None = None
    execution_error: str | None = None


# --- Authoring -------------------------------------------------------------------------------------------------

class CourseIn(ApiModel):
    title: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=20_000)
    slug: str | None = Field(None, max_length=255, description="The catalog address; made from the title if empty.")
    code: str | None = Field(None, max_length=20)
    category: str | None = Field(None, max_length=100)
    level: str | None = Field(None, max_length=50, description="beginner, intermediate or advanced.")
    language: str = Field("indonesian", max_length=50, description="indonesian or english.")


class CourseStatusIn(ApiModel):
    status: str = Field(max_length=50, description="published or archived (from the course's current status).")


class TitleIn(ApiModel):
    title: str = Field(min_length=1, max_length=255)


class ExerciseSummaryOut(ApiModel):
    id: uuid.UUID
    title: str
    type: str
    order_index: int
    estimated_duration: int | None = None


class AuthorLessonOut(ApiModel):
    id: uuid.UUID
    title: str
    order_index: int
    exercises: list[ExerciseSummaryOut]


class AuthorSectionOut(ApiModel):
    id: uuid.UUID
    title: str
    order_index: int
    lessons: list[AuthorLessonOut]


class AuthorCourseOut(CourseOut):
    sections: list[AuthorSectionOut] = Field(default_factory=list)


class SectionCreatedOut(ApiModel):
    id: uuid.UUID
    course_id: uuid.UUID
    title: str
    order_index: int


class LessonCreatedOut(ApiModel):
    id: uuid.UUID
    section_id: uuid.UUID
    title: str
    order_index: int


class ExerciseIn(ApiModel):
    type: Literal["video", "quiz", "material", "assignment", "coding"]
    title: str = Field(min_length=1, max_length=255)
    content: dict = Field(description="The type's content, as the spec defines it for each exercise type.")
    estimated_duration: int | None = Field(None, ge=0, le=10_000)


class ExerciseUpdateIn(ApiModel):
    title: str = Field(min_length=1, max_length=255)
    content: dict
    estimated_duration: int | None = Field(None, ge=0, le=10_000)


class ExerciseOut(ExerciseSummaryOut):
    lesson_id: uuid.UUID
    content: dict


class ExerciseProgressIn(ApiModel):
    seconds: int | None = Field(None, ge=0, le=86_400, description="Seconds of video watched since the last report.")
    scroll_depth: int | None = Field(None, ge=0, le=100, description="How far down a material was read (percent).")


class ExerciseProgressOut(ApiModel):
    exercise_id: uuid.UUID
    completed: bool
    watched_seconds: int | None = None
    scroll_depth: int | None = None


class LessonExerciseProgressOut(ApiModel):
    exercise_id: uuid.UUID
    title: str
    type: str
    completed: bool


class LessonPageProgressOut(ApiModel):
    lesson_id: uuid.UUID
    done: int
    total: int
    percent: int
    exercises: list[LessonExerciseProgressOut]


class ClassIn(ApiModel):
    name: str = Field(min_length=1, max_length=255)
    course_id: uuid.UUID
    instructor_id: uuid.UUID | None = None
    type: Literal["group", "private"] = "group"
    total_meetings: int = Field(ge=1, le=200)
    max_capacity: int | None = Field(None, ge=1, le=1000)
    days: list[Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]] = Field(
        default_factory=list, max_length=7)
    start_time: time | None = None
    end_time: time | None = None
    enrollment_deadline: date | None = None
    start_date: date | None = None
    end_date: date | None = None


class ClassStatusIn(ApiModel):
    status: str = Field(max_length=50, description="enrollment_open, active, completed or cancelled, as the class's "
                                                   "type allows from its current status.")


# --- People (staff) and notifications ----------------------------------------------------------------------------

class UsersQuery(ApiModel):
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, max_length=500)
    q: str = Field("", max_length=200)
    role: Literal["", "student", "instructor", "staff", "super_admin"] = ""
    status: Literal["", "active", "inactive", "suspended"] = ""
    deletion_requested: bool = Field(False, description="Only the people who asked to be forgotten.")


class NewUserIn(ApiModel):
    email: EmailStr = Field(max_length=255)
    full_name: str = Field(min_length=1, max_length=255)
    role: Role = "student"


class UserStatusIn(ApiModel):
    status: Literal["active", "inactive", "suspended"]


class NotificationOut(ApiModel):
    id: uuid.UUID
    type: str | None = None
    title: str | None = None
    message: str | None = None
    read: bool
    reference_id: uuid.UUID | None = None
    link: str | None = None
    created_at: datetime


class UnreadOut(ApiModel):
    unread: int


class AnnouncementOut(ApiModel):
    id: uuid.UUID
    class_id: uuid.UUID
    title: str
    content: str
    content_html: str = Field(description="The Markdown, rendered and sanitised.")
    scheduled_at: datetime | None = None
    sent_at: datetime | None = None
    cancelled_at: datetime | None = None
    read: bool | None = Field(None, description="For a student: whether they opened it.")
    recipient_count: int | None = Field(None, description="For its writers: how many students get it.")
    read_count: int | None = Field(None, description="For its writers: how many opened it.")


class AnnouncementIn(ApiModel):
    title: str = Field(min_length=1, max_length=255)
    content: str = Field(min_length=1, max_length=20_000)
    send_at: AwareDatetime | None = Field(None, description="Later (UTC or with an offset); now when empty.")
