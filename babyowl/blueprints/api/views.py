"""The JSON API, `/api/v1`: a second face on the same services as the pages (no rule is written here).

Each view parses (spectree validates the Pydantic body/query), calls one service, and answers a DTO in the
envelope; a refused use case (`DomainError`) becomes a 403/404/409/422 envelope in `babyowl.errors`.
"""
from __future__ import annotations

import uuid

from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_jwt_extended import get_jwt

from babyowl.authz import AUTHORS, GRADERS, STAFF_ROLES, TEACHING_ROLES, UNLOCKERS
from babyowl.blueprints.api import schemas as s
from babyowl.blueprints.api.core import (
    API_PREFIX, ApiModel, PageQuery, answers_file, api_auth_key, api_user, authenticated, decode_cursor,
    encode_cursor, error, form_body, issue_tokens, json_body, keyset_meta, ok, openapi_document, public, responses,
    revoke, spec,
)
from babyowl.extensions import limiter
from babyowl.services import accounts, attendance, catalog, classes, credits, progress, tokens

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)


def _auth_limit():
    return limiter.limit(lambda: current_app.config["RATELIMIT_AUTH"], key_func=api_auth_key)


def _client():
    return request.headers.get("User-Agent"), request.remote_addr


# --- The document and its page ----------------------------------------------------------------------------------

@bp.route("/openapi.json")
def openapi():
    return current_app.response_class(current_app.json.dumps(openapi_document()), mimetype="application/json")


@bp.route("/docs")
def docs():
    return render_template("api/docs.html", spec_url=url_for("api.openapi"))


# --- Auth --------------------------------------------------------------------------------------------------------

def _user_out(user) -> s.UserOut:
    return s.UserOut.model_validate(user)


def _tokens_out(user) -> s.TokensOut:
    return s.TokensOut(**issue_tokens(user), user=_user_out(user))


@bp.post("/auth/login")
@public
@_auth_limit()
@spec.validate(json=s.LoginIn, resp=responses(s.TokensOut), tags=["auth"])
def login():
    body: s.LoginIn = json_body()
    agent, ip = _client()
    user = accounts.sign_in(body.email, body.password, user_agent=agent, ip=ip)
    return ok(_tokens_out(user))


@bp.post("/auth/register")
@public
@_auth_limit()
@spec.validate(json=s.RegisterIn, resp=responses(s.TokensOut, 201), tags=["auth"])
def register():
    body: s.RegisterIn = json_body()
    agent, ip = _client()
    user = accounts.register_student(email=str(body.email), full_name=body.full_name, password=body.password,
                                     user_agent=agent, ip=ip)
    return ok(_tokens_out(user), 201)


@bp.post("/auth/refresh")
@public
@_auth_limit()
@authenticated(refresh=True)
@spec.validate(resp=responses(s.TokensOut), tags=["auth"])
def refresh():
    """Send the refresh token as the bearer: a new pair comes back and the old refresh token stops working."""
    if not revoke(get_jwt()):  # the same refresh token rotated by a request that ran at the same moment
        return error(401, _("This token was revoked. Sign in again."), code="TOKEN_REVOKED")
    return ok(_tokens_out(api_user()))


@bp.post("/auth/logout")
@authenticated()
@spec.validate(resp=responses(s.Done), tags=["auth"])
def logout():
    """Signs this device out: its session ends (every token it holds stops working) and this access token is
    revoked; send the refresh token in `X-Refresh-Token` to revoke it too."""
    from babyowl.services import sessions

    sessions.sign_out(api_user())
    revoke(get_jwt())
    refresh_token = request.headers.get("X-Refresh-Token")
    if refresh_token:
        from flask_jwt_extended import decode_token

        try:
            payload = decode_token(refresh_token)
        except Exception:  # an invalid or expired refresh token needs no revoking
            payload = None
        if payload and payload.get("sub") == get_jwt().get("sub"):
            revoke(payload)
    return ok(s.Done(message=_("You have signed out.")))


@bp.get("/auth/me")
@authenticated()
@spec.validate(resp=responses(s.UserOut), tags=["auth"])
def me():
    return ok(_user_out(api_user()))


@bp.post("/auth/forgot-password")
@public
@_auth_limit()
@spec.validate(json=s.EmailIn, resp=responses(s.Done, 202), tags=["auth"])
def forgot_password():
    accounts.request_password_reset(json_body().email)
    return ok(s.Done(message=_("If this address has an account, a link to choose a new password is on its way.")),
              202)


@bp.post("/auth/reset-password")
@public
@_auth_limit()
@spec.validate(json=s.ResetPasswordIn, resp=responses(s.TokensOut), tags=["auth"])
def reset_password():
    body: s.ResetPasswordIn = json_body()
    agent, ip = _client()
    user = accounts.set_password_from_link(tokens.RESET_PASSWORD, body.token, body.new_password,
                                           user_agent=agent, ip=ip)
    return ok(_tokens_out(user))


@bp.put("/auth/change-password")
@_auth_limit()
@authenticated()
@spec.validate(json=s.ChangePasswordIn, resp=responses(s.TokensOut), tags=["auth"])
def change_password():
    """Every token issued before stops working (this one too); the answer carries a fresh pair."""
    body: s.ChangePasswordIn = json_body()
    user = api_user()
    accounts.change_password(user, body.current_password, body.new_password)
    return ok(_tokens_out(user))


# --- Catalog -----------------------------------------------------------------------------------------------------

def _page_cursor(cursor: str | None, limit: int) -> tuple[int, int]:
    """Offset lists keep their page and size inside the opaque cursor."""
    values = decode_cursor(cursor)
    if values is None:
        return 1, limit
    try:
        page, size = int(values[0]), int(values[1])
    except (IndexError, TypeError, ValueError):
        page, size = 0, 0
    if page < 1 or not 1 <= size <= 100:
        from babyowl.services.errors import InvalidInput

        raise InvalidInput(_("This page link is not valid. Start again from the first page."))
    return page, size


def _page_meta(page) -> dict:
    more = page.page < page.pages and page.total > page.page * page.per_page
    return {"has_more": more, "next_cursor": encode_cursor([page.page + 1, page.per_page]) if more else None,
            "total": page.total, "limit": page.per_page}


def _course_out(course, lesson_count=None) -> s.CourseOut:
    return s.CourseOut.model_validate(course).model_copy(update={"lesson_count": lesson_count})


@bp.get("/catalog/courses")
@public
@spec.validate(query=s.CatalogQuery, resp=responses(s.CourseOut, many=True), tags=["catalog"])
def catalog_courses():
    """Published courses by title, filtered as the catalog page; keyset pages (`meta.next_cursor`)."""
    query: s.CatalogQuery = request.context.query
    page = catalog.search_after(q=query.q, category=query.category, level=query.level,
                                after=decode_cursor(query.cursor), limit=query.limit)
    counts = catalog.lesson_counts(page.items)
    return ok([_course_out(c, counts.get(c.id, 0)) for c in page.items], **keyset_meta(page))


@bp.get("/catalog/courses/<slug>")
@public
@spec.validate(resp=responses(s.CourseDetailOut), tags=["catalog"])
def catalog_course(slug: str):
    course = catalog.published_course(slug)
    sections = [s.SectionOut(id=sec.id, title=sec.title, order_index=sec.order_index,
                             lessons=[s.LessonTitleOut.model_validate(lesson) for lesson in sec.lessons])
                for sec in course.sections]
    lesson_count = sum(len(sec.lessons) for sec in sections)
    return ok(s.CourseDetailOut(**_course_out(course, lesson_count).model_dump(), sections=sections))


# --- Classes -----------------------------------------------------------------------------------------------------

def _class_out(school_class) -> s.ClassOut:
    return s.ClassOut.model_validate(school_class).model_copy(update={
        "course_title": school_class.course.title if school_class.course else None,
        "instructor_name": school_class.instructor.full_name if school_class.instructor else None})


def _enrollment_out(enrollment) -> s.EnrollmentOut:
    return s.EnrollmentOut.model_validate(enrollment).model_copy(update={
        "student_name": enrollment.student.full_name if enrollment.student else None})


@bp.get("/classes")
@authenticated()
@spec.validate(query=s.ClassesQuery, resp=responses(s.ClassOut, many=True), tags=["classes"])
def list_classes():
    """Staff: every class; an instructor: theirs; a student: the classes they are in (the filters apply to all).
    Newest start first; keyset pages (`meta.next_cursor`)."""
    query: s.ClassesQuery = request.context.query
    page = classes.classes_after(api_user(), status=query.status, type_=query.type, instructor_id=query.instructor_id,
                                 course_id=query.course_id, after=decode_cursor(query.cursor), limit=query.limit)
    return ok([_class_out(c) for c in page.items], **keyset_meta(page))


@bp.get("/classes/<uuid:class_id>")
@authenticated()
@spec.validate(resp=responses(s.ClassOut), tags=["classes"])
def get_class(class_id: uuid.UUID):
    return ok(_class_out(classes.class_for(api_user(), class_id)))


def _details(body: s.ClassIn) -> classes.ClassDetails:
    return classes.ClassDetails(name=body.name, course_id=body.course_id, instructor_id=body.instructor_id,
                                type=body.type, total_meetings=body.total_meetings, max_capacity=body.max_capacity,
                                days=tuple(body.days), start_time=body.start_time, end_time=body.end_time,
                                enrollment_deadline=body.enrollment_deadline, start_date=body.start_date,
                                end_date=body.end_date)


@bp.post("/classes")
@authenticated(*STAFF_ROLES)
@spec.validate(json=s.ClassIn, resp=responses(s.ClassOut, 201), tags=["classes"])
def create_class():
    school_class = classes.create_class(api_user(), _details(json_body()))
    return ok(_class_out(classes.class_for(api_user(), school_class.id)), 201)


@bp.put("/classes/<uuid:class_id>")
@authenticated(*STAFF_ROLES)
@spec.validate(json=s.ClassIn, resp=responses(s.ClassOut), tags=["classes"])
def update_class(class_id: uuid.UUID):
    school_class = classes.class_for(api_user(), class_id)
    classes.update_class(api_user(), school_class, _details(json_body()))
    return ok(_class_out(classes.class_for(api_user(), class_id)))


@bp.put("/classes/<uuid:class_id>/status")
@authenticated(*STAFF_ROLES)
@spec.validate(json=s.ClassStatusIn, resp=responses(s.ClassOut), tags=["classes"])
def change_class_status(class_id: uuid.UUID):
    school_class = classes.class_for(api_user(), class_id)
    classes.change_status(api_user(), school_class, json_body().status)
    return ok(_class_out(classes.class_for(api_user(), class_id)))


@bp.get("/classes/<uuid:class_id>/enrollments")
@authenticated(*TEACHING_ROLES)
@spec.validate(query=PageQuery, resp=responses(s.EnrollmentOut, many=True), tags=["classes"])
def class_enrollments(class_id: uuid.UUID):
    """The roster: active first, then completed and withdrawn, each in the order they joined; keyset pages."""
    query: PageQuery = request.context.query
    school_class = classes.class_for(api_user(), class_id)
    attendance.require_taker(api_user(), school_class)
    page = classes.roster_after(school_class, after=decode_cursor(query.cursor), limit=query.limit)
    return ok([_enrollment_out(e) for e in page.items], **keyset_meta(page))


@bp.post("/classes/<uuid:class_id>/enrollments")
@authenticated(*STAFF_ROLES)
@spec.validate(json=s.EnrollIn, resp=responses(s.EnrollmentOut, 201), tags=["classes"])
def enroll(class_id: uuid.UUID):
    body: s.EnrollIn = json_body()
    school_class = classes.class_for(api_user(), class_id)
    enrollment = classes.enroll_student_or_invite(
        api_user(), school_class, student_id=body.student_id, full_name=body.full_name, email=body.email,
        paid_at_desk=body.paid_at_desk)
    return ok(_enrollment_out(enrollment), 201)


@bp.post("/enrollments/<uuid:enrollment_id>/withdraw")
@authenticated(*STAFF_ROLES)
@spec.validate(resp=responses(s.EnrollmentOut), tags=["classes"])
def withdraw(enrollment_id: uuid.UUID):
    """Withdraw a student from the class: the seat frees up, their attendance and credit history are kept."""
    enrollment = classes.enrollment_by_id(enrollment_id)
    classes.withdraw(api_user(), enrollment)
    return ok(_enrollment_out(enrollment))


@bp.post("/classes/<uuid:class_id>/continue")
@authenticated(*STAFF_ROLES)
@spec.validate(json=s.ContinueIn, resp=responses(s.ClassOut, 201), tags=["classes"])
def continue_class(class_id: uuid.UUID):
    """Continue a running or completed group class as a private class for one of its students."""
    body: s.ContinueIn = json_body()
    group = classes.class_for(api_user(), class_id)
    private = classes.continue_as_private(api_user(), group, classes.student_choice(body.student_id), name=body.name,
                                          instructor_id=body.instructor_id, total_meetings=body.total_meetings,
                                          start_date=body.start_date)
    return ok(_class_out(classes.class_for(api_user(), private.id)), 201)


@bp.post("/classes/<uuid:class_id>/unlock-lesson")
@authenticated(*UNLOCKERS)
@spec.validate(resp=responses(s.LessonOut, 201), tags=["classes"])
def unlock_lesson(class_id: uuid.UUID):
    lesson = classes.unlock_next_lesson(api_user(), classes.class_for(api_user(), class_id))
    return ok(s.LessonOut.model_validate(lesson), 201)


# --- Attendance --------------------------------------------------------------------------------------------------

def _attendance_out(record) -> s.AttendanceOut:
    return s.AttendanceOut.model_validate(record).model_copy(update={
        "student_id": record.enrollment.student_id if record.enrollment else None})


def _taken_class(class_id: uuid.UUID):
    school_class = classes.class_for(api_user(), class_id)
    attendance.require_taker(api_user(), school_class)
    return school_class


@bp.post("/classes/<uuid:class_id>/attendance")
@authenticated(*TEACHING_ROLES)
@spec.validate(json=s.TakeAttendanceIn, headers=s.IdempotencyHeaders, resp=responses(s.TakeAttendanceOut),
               tags=["attendance"])
def take_attendance(class_id: uuid.UUID):
    """Marks for one meeting in one transaction. With `Idempotency-Key`, a retried request changes nothing."""
    body: s.TakeAttendanceIn = json_body()
    key = request.context.headers.idempotency_key
    school_class = _taken_class(class_id)
    marks = {mark.enrollment_id: (mark.status, mark.note) for mark in body.marks}
    changed = attendance.save_sheet(api_user(), school_class, meeting_number=body.meeting_number,
                                    meeting_date=body.meeting_date, marks=marks, key=key)
    records = [attendance.record_for(eid, body.meeting_number) for eid in marks]
    replayed = key is not None and changed == 0
    return ok(s.TakeAttendanceOut(meeting_number=body.meeting_number, changed=changed, replayed=replayed,
                                  marks=[_attendance_out(r) for r in records if r is not None]))


@bp.get("/classes/<uuid:class_id>/attendance")
@authenticated(*TEACHING_ROLES)
@spec.validate(query=s.AttendanceQuery, resp=responses(s.AttendanceOut, many=True), tags=["attendance"])
def attendance_history(class_id: uuid.UUID):
    query: s.AttendanceQuery = request.context.query
    school_class = _taken_class(class_id)
    page = attendance.class_records(school_class, after=decode_cursor(query.cursor), limit=query.limit,
                                    meeting_number=query.meeting_number)
    return ok([_attendance_out(r) for r in page.items], **keyset_meta(page))


@bp.put("/classes/<uuid:class_id>/attendance/<int:meeting_number>")
@authenticated(*TEACHING_ROLES)
@spec.validate(json=s.CorrectMarkIn, resp=responses(s.AttendanceOut), tags=["attendance"])
def correct_mark(class_id: uuid.UUID, meeting_number: int):
    """Change one student's mark of a meeting already taken, with the reason kept in its history."""
    body: s.CorrectMarkIn = json_body()
    school_class = _taken_class(class_id)
    enrollment = credits.enrollment_for(api_user(), body.enrollment_id)
    if enrollment.class_id != school_class.id:
        return error(404, _("This enrollment does not exist."))
    credits.correct_mark(api_user(), enrollment, meeting_number=meeting_number, status=body.status,
                         reason=body.reason)
    return ok(_attendance_out(attendance.record_for(enrollment.id, meeting_number)))


@bp.get("/classes/<uuid:class_id>/attendance/report")
@answers_file("text/csv", "application/pdf")
@authenticated(*TEACHING_ROLES)
@spec.validate(query=s.ReportQuery, resp=responses(None), tags=["attendance"])
def attendance_report(class_id: uuid.UUID):
    """The class's attendance as a file: CSV (long format, UTF-8 with BOM) or PDF (the matrix)."""
    from babyowl.blueprints.reports.files import SEPARATORS, attendance_csv_chunks, matrix_pdf
    from babyowl.models.base import utcnow
    from babyowl.services import attendance_reports
    from babyowl.services.attendance_reports import ExportFilter

    query: s.ReportQuery = request.context.query
    school_class = _taken_class(class_id)
    name = f"attendance-{school_class.id}"
    if query.format == "pdf":
        pdf = matrix_pdf(attendance_reports.matrix(school_class), utcnow())
        return Response(pdf, mimetype="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})
    body = b"".join(attendance_csv_chunks(ExportFilter(class_id=school_class.id), SEPARATORS["comma"]))
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


# --- Credits -----------------------------------------------------------------------------------------------------

def _credits_out(enrollment, history=None) -> s.CreditsOut:
    history = history or credits.history(enrollment)
    return s.CreditsOut(enrollment_id=enrollment.id, meeting_credits=enrollment.meeting_credits,
                        credits_used=enrollment.credits_used, credits_remaining=enrollment.credits_remaining,
                        out_of_credits=credits.is_out_of_credits(enrollment), adds_up=history.adds_up)


@bp.get("/enrollments/<uuid:enrollment_id>/credits")
@authenticated()
@spec.validate(resp=responses(s.CreditsOut), tags=["credits"])
def credit_balance(enrollment_id: uuid.UUID):
    return ok(_credits_out(credits.enrollment_for(api_user(), enrollment_id)))


@bp.post("/enrollments/<uuid:enrollment_id>/credits/adjust")
@authenticated(*TEACHING_ROLES)
@spec.validate(json=s.AdjustIn, headers=s.IdempotencyHeaders, resp=responses(s.AdjustmentOut, 201),
               tags=["credits"])
def adjust_credits(enrollment_id: uuid.UUID):
    """Positive gives credits back, negative uses them; with `Idempotency-Key` a retry changes nothing."""
    body: s.AdjustIn = json_body()
    enrollment = credits.enrollment_for(api_user(), enrollment_id)
    record = credits.adjust(api_user(), enrollment, adjustment=body.adjustment, reason=body.reason,
                            detail=body.detail, key=request.context.headers.idempotency_key,
                            above_package_confirmed=body.above_package_confirmed)
    return ok(s.AdjustmentOut.model_validate(record), 201)


@bp.get("/enrollments/<uuid:enrollment_id>/credits/history")
@authenticated()
@spec.validate(query=PageQuery, resp=responses(s.LedgerEntryOut, many=True), tags=["credits"])
def credit_history(enrollment_id: uuid.UUID):
    """Mark changes and adjustments, oldest first, each with the credits used after it; keyset pages."""
    query: PageQuery = request.context.query
    enrollment = credits.enrollment_for(api_user(), enrollment_id)
    _history, page = credits.history_after(enrollment, after=decode_cursor(query.cursor), limit=query.limit)
    return ok([s.LedgerEntryOut(id=e.id, at=e.at, by_name=e.by.full_name if e.by else None,
                                used_change=e.used_change, used_after=e.used_after, meeting_number=e.meeting_number,
                                old_status=e.old_status, new_status=e.new_status, reason=e.reason,
                                adjustment=e.adjustment.adjustment if e.adjustment else None)
               for e in page.items], **keyset_meta(page))


# --- Progress ----------------------------------------------------------------------------------------------------

@bp.get("/me/progress")
@authenticated("student")
@spec.validate(resp=responses(s.MyClassProgressOut, many=True), tags=["progress"])
def my_progress():
    return ok(_progress_rows(api_user()))


def _progress_rows(student) -> list[s.MyClassProgressOut]:
    rows = progress.student_progress(student)
    return [s.MyClassProgressOut(
        enrollment_id=row.enrollment.id, class_id=row.enrollment.class_id, class_name=row.enrollment.school_class.name,
        lessons_completed=row.lessons_completed, exercises_completed=row.exercises_completed,
        exercises_total=row.exercises_total,
        lessons=[s.LessonProgressOut(lesson_id=c.lesson.id, title=c.lesson.title, unlocked=c.unlocked,
                                     exercises_done=c.done, exercises_total=c.total, completed=c.completed)
                 for c in row.lessons]) for row in rows]


@bp.get("/classes/<uuid:class_id>/progress")
@authenticated(*TEACHING_ROLES)
@spec.validate(resp=responses(s.ClassProgressOut), tags=["progress"])
def class_progress(class_id: uuid.UUID):
    school_class = _taken_class(class_id)
    report = progress.class_progress(school_class)
    return ok(s.ClassProgressOut(
        class_id=school_class.id,
        lessons=[s.LessonTitleOut.model_validate(lesson) for lesson, _unlocked, _n in report.lessons],
        students=[s.StudentProgressOut(enrollment_id=row.enrollment.id, student_id=row.enrollment.student_id,
                                       student_name=row.enrollment.student.full_name,
                                       lessons_completed=row.lessons_completed,
                                       exercises_completed=row.exercises_completed) for row in report.rows]))


__all__ = ["bp", "ApiModel"]


# --- Quizzes -----------------------------------------------------------------------------------------------------

def _quiz_place(class_id: uuid.UUID, exercise_id: uuid.UUID):
    from babyowl.services import learning

    place = learning.place_for(api_user(), class_id, exercise_id)
    if place.exercise.type != "quiz":
        return None, error(404, _("This exercise is not a quiz."))
    return place, None


def _attempt_out(attempt, content, model=s.QuizAttemptOut, **extra):
    from babyowl.exercise_types import get_type

    return model(id=attempt.id, attempt_number=attempt.attempt_number, score=attempt.score,
                 max_score=attempt.max_score,
                 passed=get_type("quiz").passed(content, attempt.score, attempt.max_score), **extra)


@bp.get("/classes/<uuid:class_id>/exercises/<uuid:exercise_id>/quiz")
@authenticated("student")
@spec.validate(resp=responses(s.QuizOut), tags=["quizzes"])
def get_quiz(class_id: uuid.UUID, exercise_id: uuid.UUID):
    """The questions as the student sees them: never the correct answers nor the explanations."""
    from babyowl.services import learning

    place, refused = _quiz_place(class_id, exercise_id)
    if refused:
        return refused
    panel = learning.item_for(api_user(), place).panel
    return ok(s.QuizOut(exercise_id=place.exercise.id, title=place.exercise.title, attempts_used=len(panel.attempts),
                        attempts_allowed=panel.allowed, passed=panel.passed,
                        questions=[s.QuizQuestionOut(**q) for q in panel.questions]))


@bp.post("/classes/<uuid:class_id>/exercises/<uuid:exercise_id>/quiz/attempts")
@authenticated("student")
@spec.validate(json=s.QuizAnswersIn, resp=responses(s.QuizResultOut, 201), tags=["quizzes"])
def submit_quiz(class_id: uuid.UUID, exercise_id: uuid.UUID):
    """Scored on the server against the stored quiz; the answer carries the review (no answers to other attempts)."""
    from babyowl.services import learning

    place, refused = _quiz_place(class_id, exercise_id)
    if refused:
        return refused
    attempt, review, _attempts = learning.submit_quiz(api_user(), place, json_body().answers)
    return ok(_attempt_out(attempt, place.exercise.content, s.QuizResultOut, review=review), 201)


@bp.get("/classes/<uuid:class_id>/exercises/<uuid:exercise_id>/quiz/attempts")
@authenticated("student")
@spec.validate(query=PageQuery, resp=responses(s.QuizAttemptOut, many=True), tags=["quizzes"])
def quiz_attempts(class_id: uuid.UUID, exercise_id: uuid.UUID):
    """The student's attempts in the order they were made; keyset pages."""
    from babyowl.services import learning
    from babyowl.services.listing import Key, keyset_slice

    query: PageQuery = request.context.query
    place, refused = _quiz_place(class_id, exercise_id)
    if refused:
        return refused
    panel = learning.item_for(api_user(), place).panel
    page = keyset_slice(sorted(panel.attempts, key=lambda a: a.attempt_number), lambda a: (a.attempt_number,),
                        (Key("attempt_number", int),), after=decode_cursor(query.cursor), limit=query.limit)
    return ok([_attempt_out(a, place.exercise.content) for a in page.items], **keyset_meta(page))


# --- Assignments -------------------------------------------------------------------------------------------------

@bp.post("/classes/<uuid:class_id>/exercises/<uuid:exercise_id>/submissions")
@authenticated("student")
@spec.validate(form=s.AssignmentForm, resp=responses(s.AssignmentSubmissionOut, 201), tags=["assignments"])
def submit_assignment(class_id: uuid.UUID, exercise_id: uuid.UUID):
    """Hand in a new version: multipart/form-data with `kind` and the `file`, `text` or `link`."""
    from babyowl.services import assignments, learning

    form: s.AssignmentForm = form_body()
    place = learning.place_for(api_user(), class_id, exercise_id)
    upload = request.files.get("file")
    submission = assignments.submit(
        api_user(), place, kind=form.kind, text=form.text, link=form.link, comment=form.comment,
        upload=assignments.Upload(upload.filename or "", upload.stream) if upload else None)
    return ok(s.AssignmentSubmissionOut.model_validate(submission), 201)


@bp.post("/submissions/<uuid:submission_id>/grade")
@authenticated(*GRADERS)
@spec.validate(json=s.GradeIn, resp=responses(s.AssignmentSubmissionOut), tags=["assignments"])
def grade_submission(submission_id: uuid.UUID):
    from babyowl.services import assignments

    body: s.GradeIn = json_body()
    submission = assignments.submission_for(api_user(), submission_id)
    graded = assignments.grade(api_user(), submission, status=body.status, grade_value=body.grade,
                               feedback=body.feedback)
    return ok(s.AssignmentSubmissionOut.model_validate(graded))


# --- Coding ------------------------------------------------------------------------------------------------------

def _coding_out(submission, model=s.CodingSubmissionOut, **extra):
    return model(id=submission.id, exercise_id=submission.exercise_id, user_id=submission.user_id,
                 attempt_number=submission.attempt_number, graded=submission.test_results is not None,
                 passed=submission.passed, score=submission.score, max_score=submission.max_score,
                 created_at=submission.created_at, **extra)


@bp.get("/exercises/<uuid:exercise_id>/coding")
@authenticated()
@spec.validate(resp=responses(s.CodingExerciseOut), tags=["coding"])
def coding_exercise(exercise_id: uuid.UUID):
    from babyowl.services import grading

    exercise = grading.exercise_for_coding(api_user(), exercise_id)
    return ok(s.CodingExerciseOut(exercise_id=exercise.id, title=exercise.title, content=grading.page_data(exercise),
                                  solution=grading.solution_for(api_user(), exercise)))


@bp.post("/exercises/<uuid:exercise_id>/coding/submit")
@authenticated("student")
@spec.validate(json=s.CodeIn, resp=responses(s.CodingSubmissionOut, 202), tags=["coding"])
def submit_code(exercise_id: uuid.UUID):
    """Stored and queued for grading: poll `GET /coding/submissions/<id>` until `graded`."""
    from babyowl.services import grading

    submission = grading.submit(api_user(), grading.exercise_to_submit(exercise_id), json_body().code)
    return ok(_coding_out(submission), 202)


@bp.get("/exercises/<uuid:exercise_id>/coding/submissions")
@authenticated()
@spec.validate(query=PageQuery, resp=responses(s.CodingSubmissionOut, many=True), tags=["coding"])
def coding_history(exercise_id: uuid.UUID):
    """The student's own submissions; an instructor's students'; every one for staff. Newest first; keyset pages."""
    from babyowl.services import grading

    query: PageQuery = request.context.query
    exercise = grading.exercise_for_coding(api_user(), exercise_id)
    page = grading.history_after(api_user(), exercise, after=decode_cursor(query.cursor), limit=query.limit)
    return ok([_coding_out(submission) for submission in page.items], **keyset_meta(page))


@bp.get("/coding/submissions/<uuid:submission_id>")
@authenticated()
@spec.validate(resp=responses(s.CodingResultOut), tags=["coding"])
def coding_result(submission_id: uuid.UUID):
    """Students see their visible tests in full and only a pass count for hidden ones; teachers see everything."""
    from babyowl.services import grading

    submission = grading.submission_for(api_user(), submission_id)
    results, hidden_passed, hidden_total = grading.visible_results(submission, api_user())
    return ok(_coding_out(submission, s.CodingResultOut, code=submission.code, results=results,
                          hidden_passed=hidden_passed, hidden_total=hidden_total,
                          execution_time=submission.execution_time, execution_error=submission.execution_error))


# --- Authoring (courses, sections, lessons, exercises) -----------------------------------------------------------

def _author_course_out(course) -> s.AuthorCourseOut:
    from babyowl.services import structure

    outline = structure.course_outline(course.id)
    sections = [s.AuthorSectionOut(id=sec.id, title=sec.title, order_index=sec.order_index, lessons=[
        s.AuthorLessonOut(id=lesson.id, title=lesson.title, order_index=lesson.order_index,
                          exercises=[s.ExerciseSummaryOut.model_validate(e) for e in lesson.exercises])
        for lesson in sec.lessons]) for sec in outline.sections]
    return s.AuthorCourseOut(**s.CourseOut.model_validate(outline).model_dump(), sections=sections)


@bp.get("/courses")
@authenticated(*AUTHORS)
@spec.validate(query=PageQuery, resp=responses(s.CourseOut, many=True), tags=["authoring"])
def authored_courses():
    """The courses the caller writes (every course for super_admin), newest first; keyset pages."""
    from babyowl.services import courses

    query: PageQuery = request.context.query
    page = courses.authored_after(api_user(), after=decode_cursor(query.cursor), limit=query.limit)
    return ok([s.CourseOut.model_validate(course) for course in page.items], **keyset_meta(page))


@bp.post("/courses")
@authenticated(*AUTHORS)
@spec.validate(json=s.CourseIn, resp=responses(s.AuthorCourseOut, 201), tags=["authoring"])
def create_course():
    from babyowl.services import courses

    body: s.CourseIn = json_body()
    course = courses.create_course(api_user(), title=body.title, description=body.description, slug=body.slug,
                                   code=body.code, category=body.category, level=body.level, language=body.language)
    return ok(_author_course_out(course), 201)


@bp.get("/courses/<uuid:course_id>")
@authenticated(*AUTHORS)
@spec.validate(resp=responses(s.AuthorCourseOut), tags=["authoring"])
def get_course(course_id: uuid.UUID):
    from babyowl.services import courses

    return ok(_author_course_out(courses.course_for_author(api_user(), course_id)))


@bp.put("/courses/<uuid:course_id>")
@authenticated(*AUTHORS)
@spec.validate(json=s.CourseIn, resp=responses(s.AuthorCourseOut), tags=["authoring"])
def update_course(course_id: uuid.UUID):
    from babyowl.services import courses

    body: s.CourseIn = json_body()
    course = courses.course_for_author(api_user(), course_id)
    courses.update_course(api_user(), course, title=body.title, description=body.description,
                          slug=body.slug or course.slug, code=body.code, category=body.category, level=body.level,
                          language=body.language)
    return ok(_author_course_out(course))


@bp.put("/courses/<uuid:course_id>/status")
@authenticated(*AUTHORS)
@spec.validate(json=s.CourseStatusIn, resp=responses(s.CourseOut), tags=["authoring"])
def change_course_status(course_id: uuid.UUID):
    from babyowl.services import courses

    course = courses.course_for_author(api_user(), course_id)
    courses.change_status(api_user(), course, json_body().status)
    return ok(s.CourseOut.model_validate(course))


@bp.delete("/courses/<uuid:course_id>")
@authenticated(*AUTHORS)
@spec.validate(resp=responses(s.Done), tags=["authoring"])
def delete_course(course_id: uuid.UUID):
    from babyowl.services import courses

    courses.delete_course(api_user(), courses.course_for_author(api_user(), course_id))
    return ok(s.Done())


@bp.post("/courses/<uuid:course_id>/sections")
@authenticated(*AUTHORS)
@spec.validate(json=s.TitleIn, resp=responses(s.SectionCreatedOut, 201), tags=["authoring"])
def add_section(course_id: uuid.UUID):
    from babyowl.services import courses, structure

    section = structure.add_section(api_user(), courses.course_for_author(api_user(), course_id), json_body().title)
    return ok(s.SectionCreatedOut.model_validate(section), 201)


@bp.post("/sections/<uuid:section_id>/lessons")
@authenticated(*AUTHORS)
@spec.validate(json=s.TitleIn, resp=responses(s.LessonCreatedOut, 201), tags=["authoring"])
def add_lesson(section_id: uuid.UUID):
    from babyowl.services import structure

    lesson = structure.add_lesson(api_user(), structure.section_for_author(api_user(), section_id),
                                  json_body().title)
    return ok(s.LessonCreatedOut.model_validate(lesson), 201)


@bp.get("/lessons/<uuid:lesson_id>/exercises")
@authenticated(*AUTHORS)
@spec.validate(resp=responses(s.ExerciseOut, many=True), tags=["authoring"])
def lesson_exercises(lesson_id: uuid.UUID):
    """The lesson's exercises with their full content (answers included): for the course's authors only."""
    from babyowl.services import structure

    lesson = structure.lesson_for_author(api_user(), lesson_id)
    return ok([s.ExerciseOut.model_validate(e) for e in lesson.exercises])


@bp.post("/lessons/<uuid:lesson_id>/exercises")
@authenticated(*AUTHORS)
@spec.validate(json=s.ExerciseIn, resp=responses(s.ExerciseOut, 201), tags=["authoring"])
def add_exercise(lesson_id: uuid.UUID):
    from babyowl.services import exercises, structure

    body: s.ExerciseIn = json_body()
    exercise = exercises.create_exercise(api_user(), structure.lesson_for_author(api_user(), lesson_id),
                                         type_name=body.type, title=body.title, content=body.content,
                                         estimated_duration=body.estimated_duration)
    return ok(s.ExerciseOut.model_validate(exercise), 201)


@bp.put("/exercises/<uuid:exercise_id>")
@authenticated(*AUTHORS)
@spec.validate(json=s.ExerciseUpdateIn, resp=responses(s.ExerciseOut), tags=["authoring"])
def update_exercise(exercise_id: uuid.UUID):
    from babyowl.services import exercises, structure

    body: s.ExerciseUpdateIn = json_body()
    exercise = structure.exercise_for_author(api_user(), exercise_id)
    exercises.update_exercise(api_user(), exercise, title=body.title, content=body.content,
                              estimated_duration=body.estimated_duration)
    return ok(s.ExerciseOut.model_validate(exercise))


@bp.delete("/exercises/<uuid:exercise_id>")
@authenticated(*AUTHORS)
@spec.validate(resp=responses(s.Done), tags=["authoring"])
def delete_exercise(exercise_id: uuid.UUID):
    from babyowl.services import exercises, structure

    exercises.delete_exercise(api_user(), structure.exercise_for_author(api_user(), exercise_id))
    return ok(s.Done())


# --- Progress of a student's work --------------------------------------------------------------------------------

def _exercise_progress_out(progress) -> s.ExerciseProgressOut:
    return s.ExerciseProgressOut(exercise_id=progress.exercise_id, completed=progress.completed,
                                 watched_seconds=progress.watched_seconds, scroll_depth=progress.scroll_depth)


@bp.post("/classes/<uuid:class_id>/exercises/<uuid:exercise_id>/complete")
@authenticated("student")
@spec.validate(resp=responses(s.ExerciseProgressOut), tags=["progress"])
def complete_exercise(class_id: uuid.UUID, exercise_id: uuid.UUID):
    """The "Mark as done" button: materials always, videos when the instructor allows it; others by their work."""
    from babyowl.services import learning

    place = learning.place_for(api_user(), class_id, exercise_id)
    return ok(_exercise_progress_out(learning.mark_done(api_user(), place)))


@bp.post("/classes/<uuid:class_id>/exercises/<uuid:exercise_id>/progress")
@authenticated("student")
@spec.validate(json=s.ExerciseProgressIn, resp=responses(s.ExerciseProgressOut), tags=["progress"])
def report_exercise_progress(class_id: uuid.UUID, exercise_id: uuid.UUID):
    from babyowl.services import learning

    body: s.ExerciseProgressIn = json_body()
    place = learning.place_for(api_user(), class_id, exercise_id)
    return ok(_exercise_progress_out(learning.record_progress(api_user(), place, seconds=body.seconds,
                                                              scroll_depth=body.scroll_depth)))


@bp.get("/classes/<uuid:class_id>/lessons/<uuid:lesson_id>/progress")
@authenticated("student")
@spec.validate(resp=responses(s.LessonPageProgressOut), tags=["progress"])
def lesson_progress(class_id: uuid.UUID, lesson_id: uuid.UUID):
    from babyowl.services import learning

    page = learning.lesson_page(api_user(), class_id, lesson_id)
    return ok(s.LessonPageProgressOut(
        lesson_id=page.lesson.id, done=page.done, total=page.total, percent=page.percent,
        exercises=[s.LessonExerciseProgressOut(exercise_id=item.exercise.id, title=item.exercise.title,
                                               type=item.exercise.type, completed=item.completed)
                   for item in page.items]))


@bp.get("/users/<uuid:user_id>/progress")
@authenticated()
@spec.validate(resp=responses(s.MyClassProgressOut, many=True), tags=["progress"])
def user_progress(user_id: uuid.UUID):
    """A student's progress in each of their classes: their own, or anyone's for staff (as the profile page)."""
    from babyowl.services import users

    return ok(_progress_rows(users.profile_for(api_user(), user_id)))


# --- People (staff) ----------------------------------------------------------------------------------------------

@bp.get("/users")
@authenticated(*STAFF_ROLES)
@spec.validate(query=s.UsersQuery, resp=responses(s.UserOut, many=True), tags=["users"])
def list_users():
    """The school's people, as the staff's users table (filters q, role, status), by name.

    A staff table, so paged by offset, not keyset: the cursor carries the page number, `meta.total` counts the
    people, and a person added or renamed between two pages can shift a row onto the next page or back."""
    from babyowl.services import users

    query: s.UsersQuery = request.context.query
    page_number, size = _page_cursor(query.cursor, query.limit)
    page = users.search_users(q=query.q, role=query.role, status=query.status,
                              deletion_requested=query.deletion_requested, page=page_number, per_page=size)
    return ok([_user_out(user) for user in page.items], **_page_meta(page))


@bp.post("/users")
@authenticated(*STAFF_ROLES)
@spec.validate(json=s.NewUserIn, resp=responses(s.UserOut, 201), tags=["users"])
def create_user():
    """A new account, invited by email to choose a password (staff create students; super_admin any role)."""
    from babyowl.services import users

    body: s.NewUserIn = json_body()
    user = users.create_user_by(api_user(), email=str(body.email), full_name=body.full_name, role=body.role)
    return ok(_user_out(user), 201)


@bp.put("/users/<uuid:user_id>/status")
@authenticated(*STAFF_ROLES)
@spec.validate(json=s.UserStatusIn, resp=responses(s.UserOut), tags=["users"])
def set_user_status(user_id: uuid.UUID):
    """Suspend or reactivate: a suspended person's sessions and bearer tokens stop working at once."""
    from babyowl.services import users

    return ok(_user_out(users.set_status(api_user(), user_id, json_body().status)))


# --- Notifications -----------------------------------------------------------------------------------------------

@bp.get("/notifications")
@authenticated()
@spec.validate(query=PageQuery, resp=responses(s.NotificationOut, many=True), tags=["notifications"])
def list_notifications():
    """The caller's notifications, newest first; keyset pages."""
    from babyowl.services import notifications

    query: PageQuery = request.context.query
    page = notifications.notifications_after(api_user(), after=decode_cursor(query.cursor), limit=query.limit)
    return ok([s.NotificationOut.model_validate(n) for n in page.items], **keyset_meta(page))


@bp.get("/notifications/unread-count")
@authenticated()
@spec.validate(resp=responses(s.UnreadOut), tags=["notifications"])
def unread_notifications():
    from babyowl.services import notifications

    return ok(s.UnreadOut(unread=notifications.unread_count(api_user())))


@bp.post("/notifications/<uuid:notification_id>/read")
@authenticated()
@spec.validate(resp=responses(s.NotificationOut), tags=["notifications"])
def read_notification(notification_id: uuid.UUID):
    from babyowl.services import notifications

    return ok(s.NotificationOut.model_validate(notifications.mark_read(api_user(), notification_id)))


@bp.post("/notifications/read-all")
@authenticated()
@spec.validate(resp=responses(s.UnreadOut), tags=["notifications"])
def read_all_notifications():
    from babyowl.services import notifications

    notifications.mark_all_read(api_user())
    return ok(s.UnreadOut(unread=notifications.unread_count(api_user())))


# --- Announcements -----------------------------------------------------------------------------------------------

@bp.get("/classes/<uuid:class_id>/announcements")
@authenticated()
@spec.validate(query=PageQuery, resp=responses(s.AnnouncementOut, many=True), tags=["announcements"])
def class_announcements(class_id: uuid.UUID):
    """Its writers (the class's instructor, staff) see every one with its reads; its students the sent ones.
    Newest first; keyset pages."""
    from babyowl.services import announcements

    query: PageQuery = request.context.query
    after = decode_cursor(query.cursor)
    school_class = announcements.class_to_read(api_user(), class_id)
    if announcements.may_manage(api_user(), school_class):
        page = announcements.class_announcements_after(api_user(), school_class, after=after, limit=query.limit)
        return ok([s.AnnouncementOut.model_validate(row.announcement).model_copy(
            update={"recipient_count": row.recipients, "read_count": row.reads}) for row in page.items],
            **keyset_meta(page))
    page = announcements.for_student_after(api_user(), class_id=school_class.id, after=after, limit=query.limit)
    return ok([s.AnnouncementOut.model_validate(a).model_copy(update={"read": read}) for a, read in page.items],
              **keyset_meta(page))


@bp.post("/classes/<uuid:class_id>/announcements")
@authenticated(*TEACHING_ROLES)
@spec.validate(json=s.AnnouncementIn, resp=responses(s.AnnouncementOut, 201), tags=["announcements"])
def create_announcement(class_id: uuid.UUID):
    from babyowl.services import announcements

    body: s.AnnouncementIn = json_body()
    school_class = announcements.class_to_manage(api_user(), class_id)
    announcement = announcements.create_announcement(api_user(), school_class, title=body.title,
                                                     content=body.content, send_at=body.send_at)
    return ok(s.AnnouncementOut.model_validate(announcement), 201)


@bp.get("/announcements/<uuid:announcement_id>")
@authenticated()
@spec.validate(resp=responses(s.AnnouncementOut), tags=["announcements"])
def open_announcement(announcement_id: uuid.UUID):
    """A student's first opening records that they read it (once)."""
    from babyowl.services import announcements

    return ok(s.AnnouncementOut.model_validate(announcements.open_announcement(api_user(), announcement_id)))


@bp.put("/announcements/<uuid:announcement_id>")
@authenticated(*TEACHING_ROLES)
@spec.validate(json=s.AnnouncementIn, resp=responses(s.AnnouncementOut), tags=["announcements"])
def update_announcement(announcement_id: uuid.UUID):
    """Change a scheduled announcement (title, text, when; no `send_at` sends it now). One already sent or
    cancelled is refused with 409 (`ANNOUNCEMENT_CLOSED`)."""
    from babyowl.services import announcements

    body: s.AnnouncementIn = json_body()
    announcement = announcements.announcement_for(api_user(), announcement_id, manage=True)
    updated = announcements.update_announcement(api_user(), announcement, title=body.title, content=body.content,
                                                send_at=body.send_at)
    return ok(s.AnnouncementOut.model_validate(updated))


@bp.post("/announcements/<uuid:announcement_id>/cancel")
@authenticated(*TEACHING_ROLES)
@spec.validate(resp=responses(s.AnnouncementOut), tags=["announcements"])
def cancel_announcement(announcement_id: uuid.UUID):
    from babyowl.services import announcements

    announcement = announcements.announcement_for(api_user(), announcement_id, manage=True)
    return ok(s.AnnouncementOut.model_validate(announcements.cancel_announcement(api_user(), announcement)))

from babyowl.blueprints.api import payments as _payments  # noqa: E402,F401  (a1: registers on bp)
from babyowl.blueprints.api import gamification as _gamification  # noqa: E402,F401  (a1: registers on bp)
from babyowl.blueprints.api import community, messages  # noqa: E402,F401  (a2: their operations register on bp)
from babyowl.blueprints.api import account  # noqa: E402,F401  (a3: profile, devices, the person's data)
