"""Attendance reports: the long format staff reconcile from, and the matrix people read.

Long format: one row per student per meeting, with the credits the student
had left after that meeting, computed from the records themselves:

    meeting credits - marks that deducted a credit in meetings 1..n
                    + adjustments made up to the moment meeting n was marked

Rows are streamed from the database (`yield_per`), so an export of any size
holds only one batch in memory.

This module produces plain rows (`ExportRow`, `Matrix`: dataclasses of plain
values, no models); the reports blueprint's writers turn them into CSV, xlsx
and PDF.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import Integer, String, case, cast, func, literal, select, text
from sqlalchemy.orm import aliased, joinedload

from babyowl.extensions import db
from babyowl.models import ClassAttendance, ClassEnrollment, Course, CreditAdjustment, SchoolClass, User
from babyowl.services.credits import used_by
from babyowl.services.errors import DomainError, InvalidInput
from babyowl.services.listing import text_matches
from babyowl.transactions import use_case

COLUMNS = (
    "attendance_id", "class_id", "class_name", "course", "instructor", "meeting_number", "meeting_date",
    "student_id", "student_name", "student_email", "status", "credit_deducted", "credits_remaining_after",
    "marked_by", "marked_at", "changed_by", "changed_at", "note",
)
BATCH = 2000


@dataclass(frozen=True)
class ExportFilter:
    date_from: date | None = None
    date_to: date | None = None
    class_id: uuid.UUID | None = None
    instructor_id: uuid.UUID | None = None
    student: str = ""  # part of a student's name or email


@dataclass
class ExportRow:
    attendance_id: str  # ids as text, as the files have them
    class_id: str
    class_name: str
    course: str
    instructor: str | None
    meeting_number: int
    meeting_date: date
    student_id: str
    student_name: str
    student_email: str
    status: str
    credit_deducted: bool
    credits_remaining_after: int
    marked_by: str | None
    marked_at: datetime
    changed_by: str | None
    changed_at: datetime | None
    note: str | None


class _Aliases:
    """The four parts users play in a row of the export, aliased once per query."""

    def __init__(self) -> None:
        self.student, self.instructor, self.marker, self.changer = (aliased(User) for _ in range(4))


# Built once: an alias proxies every column of `users` when a query first uses it, and four new aliases per request
# were a tenth of /reports' CPU. A statement construct, shared safely by every query (a subquery has its own scope).
ALIASES = _Aliases()


def _filtered(query, filters: ExportFilter, student):
    """The filters on a query that joins the mark's class and its student as `student`."""
    if filters.class_id:
        query = query.where(ClassAttendance.class_id == filters.class_id)
    if filters.instructor_id:
        query = query.where(SchoolClass.instructor_id == filters.instructor_id)
    if filters.student.strip():
        query = query.where(text_matches(filters.student, student.full_name, student.email))
    if filters.date_from:
        query = query.where(ClassAttendance.meeting_date >= filters.date_from)
    if filters.date_to:
        query = query.where(ClassAttendance.meeting_date <= filters.date_to)
    return query


def _adjusted_by_then():
    return (select(func.coalesce(func.sum(CreditAdjustment.adjustment), 0))
            .where(CreditAdjustment.enrollment_id == ClassAttendance.enrollment_id,
                   CreditAdjustment.adjusted_at <= ClassAttendance.marked_at)
            .correlate(ClassAttendance).scalar_subquery())


# Free text people typed: a CSV cell that starts like a formula gets a leading quote, so that a name typed as
# "=HYPERLINK(...)" stays text when Excel opens the file.
TEXT_COLUMNS = frozenset({"class_name", "course", "instructor", "student_name", "student_email", "marked_by",
                          "changed_by", "note"})
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# ISO 8601 with the offset, as datetime.isoformat(timespec="seconds") prints it, in the session's time zone.
_ISO_LOCAL = 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'


def _raw(column, name: str):
    return column.label(name)


def _as_text(column, name: str):
    """A column as the CSV prints it, formatted by PostgreSQL (the same as `text_cells` does in Python)."""
    if name in TEXT_COLUMNS:
        guarded = case((func.left(column, 1).in_(FORMULA_STARTS), literal("'", String) + column), else_=column)
        # NULLIF: COPY prints an empty text as "" and NULL as nothing; the CSV prints both as nothing.
        return func.nullif(guarded, "").label(name)
    if name in ("meeting_date",):
        return func.to_char(column, "YYYY-MM-DD").label(name)
    if name in ("marked_at", "changed_at"):
        return func.to_char(column, _ISO_LOCAL).label(name)
    if name == "credit_deducted":
        return cast(column, Integer).label(name)
    return column.label(name)


def _rows_query(filters: ExportFilter, used_through, a: _Aliases, shape=_raw):
    remaining = (ClassEnrollment.meeting_credits - used_through + _adjusted_by_then()).cast(Integer)
    # Ids as text, as the files print them: PostgreSQL's text costs nothing, while a uuid.UUID built and printed
    # again for each of three ids of every row was a good part of the CSV's time (issue 22).
    values = (cast(ClassAttendance.id, String), cast(SchoolClass.id, String), SchoolClass.name, Course.title,
              a.instructor.full_name, ClassAttendance.meeting_number, ClassAttendance.meeting_date,
              cast(a.student.id, String), a.student.full_name, a.student.email, ClassAttendance.status,
              ClassAttendance.credit_deducted, remaining, a.marker.full_name, ClassAttendance.marked_at,
              a.changer.full_name, ClassAttendance.updated_at, ClassAttendance.notes)
    query = (select(*(shape(value, name) for value, name in zip(values, COLUMNS)))
             .join(SchoolClass, SchoolClass.id == ClassAttendance.class_id)
             .join(Course, Course.id == SchoolClass.course_id)
             .join(ClassEnrollment, ClassEnrollment.id == ClassAttendance.enrollment_id)
             .join(a.student, a.student.id == ClassEnrollment.student_id)
             .outerjoin(a.instructor, a.instructor.id == SchoolClass.instructor_id)
             .outerjoin(a.marker, a.marker.id == ClassAttendance.marked_by)
             .outerjoin(a.changer, a.changer.id == ClassAttendance.updated_by))
    return _filtered(query, filters, a.student).order_by(
        SchoolClass.name, SchoolClass.id, ClassAttendance.meeting_number, func.lower(a.student.full_name), a.student.id)


def _export_query(filters: ExportFilter, shape=_raw):
    """Every matching row; credits used so far counted once for all rows by a window over each enrollment."""
    a = ALIASES
    # The running count covers every meeting of the enrollment, whatever the
    # date range, so "credits remaining after" is the same in every export.
    running = (select(ClassAttendance.id.label("attendance_id"),
                      func.sum(case((ClassAttendance.credit_deducted.is_(True), 1), else_=0)).over(
                          partition_by=ClassAttendance.enrollment_id, order_by=ClassAttendance.meeting_number)
                      .label("used_through"))
               .join(SchoolClass, SchoolClass.id == ClassAttendance.class_id)
               .join(ClassEnrollment, ClassEnrollment.id == ClassAttendance.enrollment_id)
               .join(a.student, a.student.id == ClassEnrollment.student_id))
    running = _filtered(running, ExportFilter(class_id=filters.class_id, instructor_id=filters.instructor_id,
                                              student=filters.student), a.student).subquery()
    return _rows_query(filters, running.c.used_through, a, shape).join(
        running, running.c.attendance_id == ClassAttendance.id)


def _preview_query(filters: ExportFilter):
    """The same rows, but credits used so far counted per row: PostgreSQL computes it only for the rows shown."""
    earlier = aliased(ClassAttendance)
    used_through = (select(func.count()).select_from(earlier)
                    .where(earlier.enrollment_id == ClassAttendance.enrollment_id,
                           earlier.meeting_number <= ClassAttendance.meeting_number,
                           earlier.credit_deducted.is_(True))
                    .correlate(ClassAttendance).scalar_subquery())
    return _rows_query(filters, used_through, ALIASES)


def _streamed(query) -> Iterator[Sequence]:
    """Plain tuples from a server-side cursor (Core, not the ORM's result machinery), a batch at a time."""
    if db.engine.dialect.name == "postgresql":
        # A server-side cursor makes PostgreSQL plan for the first 10 % of the rows (cursor_tuple_fraction); the
        # export's window and sort need every row before the first anyway, so that plan only made the whole slower
        # (100,050 rows at load ~12: first byte 3.45 s / 15.5 s in all planned for every row, 4.93 s / 20.4 s not).
        db.session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
    # Options for this statement only: Connection.execution_options() would change the session's connection, and
    # every later statement of the transaction would become a server-side cursor.
    result = db.session.connection().execute(query, execution_options={"stream_results": True,
                                                                        "max_row_buffer": BATCH})
    for batch in result.partitions(BATCH):
        yield from batch


def export_rows(filters: ExportFilter) -> Iterator[ExportRow]:
    """The long-format rows in a stable order (class, meeting, student), fetched in batches."""
    for values in _streamed(_export_query(filters)):
        yield ExportRow(*values)


def guarded(value: str | None) -> str:
    if value and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value or ""


def text_cells(row: ExportRow, zone: ZoneInfo) -> list:
    """One row as the CSV prints it: ids and dates as ISO text, times in the school's zone with their offset,
    typed text guarded against formulas. PostgreSQL formats the same in `_as_text` (a test holds them equal)."""
    values = []
    for name in COLUMNS:
        value = getattr(row, name)
        if name in TEXT_COLUMNS:
            value = guarded(value)
        elif name == "meeting_date":
            value = value.isoformat()
        elif name in ("marked_at", "changed_at"):
            value = value.astimezone(zone).isoformat(timespec="seconds") if value else ""
        elif name == "credit_deducted":
            value = int(value)
        values.append(value)
    return values


def export_text_rows(filters: ExportFilter) -> Iterator[Sequence]:
    """The export's rows as the CSV prints them (one cell per column of COLUMNS, text or whole numbers).

    On PostgreSQL the database formats every cell, so the CSV writer gets plain tuples and Python does no work per
    value (issue 22: the CSV at 2.5x PostgreSQL's own COPY of the same query, most of it Python formatting values).
    """
    zone = current_app.config["SCHOOL_TIMEZONE"]
    if db.engine.dialect.name != "postgresql":
        zone_info = ZoneInfo(zone)
        yield from (text_cells(row, zone_info) for row in export_rows(filters))
        return
    # The times print in the school's zone with its offset (TZH:TZM), for this transaction only: set when the
    # rows are read (a generator), in the transaction of the cursor.
    db.session.execute(select(func.set_config("TimeZone", zone, True)))
    yield from _streamed(_export_query(filters, _as_text))


def export_csv_from_database(filters: ExportFilter, separator: str) -> Iterator[bytes] | None:
    """The export's rows as CSV written by PostgreSQL itself (COPY ... TO STDOUT), in blocks as they come: no
    header, lines ending in LF. None where the database cannot (SQLite): the caller writes `export_text_rows`.

    The cells are `export_text_rows`' (the same SQL); only the quoting and joining is PostgreSQL's. The CSV then
    costs about what COPY costs (issue 22: 2.5x COPY when Python formatted and joined every value).
    """
    if db.engine.dialect.name != "postgresql":
        return None
    if separator not in (",", ";"):
        raise ValueError(f"separator {separator!r}")
    return _copied(filters, separator)


def _copied(filters: ExportFilter, separator: str) -> Iterator[bytes]:
    db.session.execute(select(func.set_config("TimeZone", current_app.config["SCHOOL_TIMEZONE"], True)))
    connection = db.session.connection()
    query = _export_query(filters, _as_text).compile(dialect=connection.dialect,
                                                     compile_kwargs={"render_postcompile": True})
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        # psycopg binds COPY's parameters on the client (PostgreSQL takes none in COPY).
        with cursor.copy(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, DELIMITER '{separator}')",
                         query.params) as copy:
            for block in copy:
                yield bytes(block)
    finally:
        cursor.close()


def preview_rows(filters: ExportFilter, limit: int) -> list[ExportRow]:
    """The first `limit` rows of the export, as the export has them."""
    return [ExportRow(*values) for values in db.session.execute(_preview_query(filters).limit(limit))]


def is_unfiltered(filters: ExportFilter) -> bool:
    """The whole school's history: counted and previewed only on demand (it grows with every meeting held)."""
    return filters == ExportFilter()


def export_count(filters: ExportFilter) -> int:
    student = ALIASES.student
    query = (select(func.count()).select_from(ClassAttendance)
             .join(SchoolClass, SchoolClass.id == ClassAttendance.class_id)
             .join(ClassEnrollment, ClassEnrollment.id == ClassAttendance.enrollment_id)
             .join(student, student.id == ClassEnrollment.student_id))
    return db.session.scalar(_filtered(query, filters, student))


@dataclass
class MatrixRow:
    enrollment_id: uuid.UUID
    student_name: str
    student_email: str
    enrollment_status: str
    credits_remaining: int
    marks: dict[int, str]  # meeting number → status
    attended: int = 0
    late: int = 0
    absent: int = 0

    @property
    def rate(self) -> Decimal | None:
        return _rate(self.attended, self.attended + self.absent)


@dataclass
class MeetingTotal:
    present: int = 0
    late: int = 0
    absent: int = 0

    @property
    def rate(self) -> Decimal | None:
        return _rate(self.present + self.late, self.present + self.late + self.absent)


@dataclass
class Matrix:
    class_id: uuid.UUID
    class_name: str
    course_title: str
    instructor_name: str | None
    meetings: list[int]
    meeting_dates: dict[int, date]
    rows: list[MatrixRow]
    totals: dict[int, MeetingTotal] = field(default_factory=dict)

    @property
    def rate(self) -> Decimal | None:
        attended = sum(t.present + t.late for t in self.totals.values())
        return _rate(attended, attended + sum(t.absent for t in self.totals.values()))


def _rate(part: int, whole: int) -> Decimal | None:
    return (Decimal(part * 100) / whole).quantize(Decimal("0.1")) if whole else None


def matrix(school_class: SchoolClass) -> Matrix:
    """Students × meetings held, with each student's and each meeting's totals and rates (two queries)."""
    enrollments = db.session.scalars(
        select(ClassEnrollment).options(joinedload(ClassEnrollment.student))
        .where(ClassEnrollment.class_id == school_class.id)).all()
    records = db.session.execute(select(ClassAttendance.enrollment_id, ClassAttendance.meeting_number,
                                        ClassAttendance.meeting_date, ClassAttendance.status)
                                 .where(ClassAttendance.class_id == school_class.id)).all()
    by_enrollment: dict[uuid.UUID, dict[int, str]] = {}
    dates: dict[int, date] = {}
    totals: dict[int, MeetingTotal] = {}
    for enrollment_id, number, meeting_date, status in records:
        by_enrollment.setdefault(enrollment_id, {})[number] = status
        dates.setdefault(number, meeting_date)
        total = totals.setdefault(number, MeetingTotal())
        setattr(total, status, getattr(total, status) + 1)
    rows = []
    for enrollment in enrollments:
        marks = by_enrollment.get(enrollment.id, {})
        if enrollment.status == "withdrawn" and not marks:
            continue
        row = MatrixRow(enrollment.id, enrollment.student.full_name, enrollment.student.email, enrollment.status,
                        enrollment.credits_remaining, marks)
        for status in marks.values():
            row.attended += bool(used_by(status))
            row.late += status == "late"
            row.absent += status == "absent"
        rows.append(row)
    rows.sort(key=lambda row: row.student_name.lower())
    meetings = sorted(dates)
    return Matrix(school_class.id, school_class.name, school_class.course.title,
                  school_class.instructor.full_name if school_class.instructor else None,
                  meetings, dates, rows, {n: totals[n] for n in meetings})


def filter_choices() -> tuple[list, list]:
    """Classes that have marks (`.id`, `.name`), and the instructors of any class (`.id`, `.full_name`), for the
    staff report's filters: plain rows, not models (whole rows of every class were a fifth of the page's CPU)."""
    # meetings_completed is recounted from the marks with every change: no scan of the school's history here.
    school_classes = db.session.execute(select(SchoolClass.id, SchoolClass.name)
                                        .where(SchoolClass.meetings_completed > 0)
                                        .order_by(SchoolClass.name, SchoolClass.id)).all()
    instructors = db.session.execute(select(User.id, User.full_name)
                                     .where(User.id.in_(select(SchoolClass.instructor_id)))
                                     .order_by(User.full_name)).all()
    return list(school_classes), list(instructors)


# ---------------------------------------------------------------------------
# Large exports: built by a job, fetched through an expiring signed link (issue 22)

EXPORT_SALT = "babyowl-export"
EXPORTS_PREFIX = "exports"  # exports/<request id>.csv|xlsx
EXPORT_TYPES = {"csv": "text/csv; charset=utf-8",
                "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


class ExportLinkInvalid(DomainError):
    status_code = 404


class ExportLinkExpired(DomainError):
    status_code = 410


def needs_job(filters: ExportFilter) -> bool:
    """Whether this export is too big to build inside a request (more than EXPORT_JOB_ROWS rows)."""
    return export_count(filters) > current_app.config["EXPORT_JOB_ROWS"]


def filters_as_dict(filters: ExportFilter) -> dict:
    return {name: (str(value) if value is not None else None) for name, value in asdict(filters).items()}


def filters_from_dict(values: dict) -> ExportFilter:
    def day(value):
        return date.fromisoformat(value) if value else None

    def ident(value):
        return uuid.UUID(value) if value else None

    return ExportFilter(date_from=day(values.get("date_from")), date_to=day(values.get("date_to")),
                        class_id=ident(values.get("class_id")), instructor_id=ident(values.get("instructor_id")),
                        student=values.get("student") or "")


def request_export(actor: User, filters: ExportFilter, file_format: str, separator: str, name: str,
                   build: Callable[..., str]) -> None:
    """Queue `build` (the reports blueprint's export job, which owns the writers) for this export; nothing in the
    database changes until it runs."""
    from babyowl import jobs

    if file_format not in EXPORT_TYPES:
        raise InvalidInput(_("Choose CSV or Excel."))
    jobs.enqueue(build, str(uuid.uuid4()), str(actor.id), filters_as_dict(filters), file_format,
                 separator, name, job_timeout=30 * 60)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=EXPORT_SALT)


def export_token(user_id: uuid.UUID, key: str, filename: str) -> str:
    return _serializer().dumps({"u": str(user_id), "k": key, "n": filename})


def exported_file(actor: User, token: str) -> tuple[str, str]:
    """(storage key, file name) of an export link `actor` received; refused once expired or if not theirs."""
    try:
        values = _serializer().loads(token, max_age=current_app.config["EXPORT_LINK_SECONDS"])
    except SignatureExpired as exc:
        raise ExportLinkExpired(_("This download link has expired. Ask for the export again.")) from exc
    except BadSignature as exc:
        raise ExportLinkInvalid(_("This download link is not valid.")) from exc
    if values.get("u") != str(actor.id):
        raise ExportLinkInvalid(_("This download link is not valid."))
    from babyowl.storage import get_storage

    if not get_storage().exists(values["k"]):  # swept (`delete_expired_exports`) a little before the link's end
        raise ExportLinkExpired(_("This download link has expired. Ask for the export again."))
    return values["k"], values["n"]


def delete_expired_exports() -> int:
    """Delete the stored exports older than their links (EXPORT_LINK_SECONDS); run by the worker's sweep and
    `flask send-due-announcements`. Returns how many files went. A file's link expires with it: its page then
    says so (410), whether the link's signature or the file ran out first."""
    from babyowl.models.base import utcnow
    from babyowl.storage import get_storage

    storage = get_storage()
    cutoff = utcnow() - timedelta(seconds=current_app.config["EXPORT_LINK_SECONDS"])
    expired = [key for key, written in storage.listed(EXPORTS_PREFIX) if written < cutoff]
    for key in expired:
        storage.delete(key)
    return len(expired)


@use_case
def export_ready(request_id: str, user_id: uuid.UUID, key: str, filename: str) -> None:
    """Tell the person who asked that their stored export can be downloaded (once per request id)."""
    from babyowl.services.notifications import notify, path_for

    user = db.session.get(User, user_id)
    if user is None:
        return
    hours = current_app.config["EXPORT_LINK_SECONDS"] // 3600
    notify([user], kind="export_ready", title=_l("Your attendance export is ready"),
           message=_l("%(file)s is ready to download. The link works for %(hours)d hours.", file=filename,
                      hours=hours),
           link=path_for("reports.exported", token=export_token(user_id, key, filename)),
           event_key=f"export:{request_id}", email=False)
