"""Attendance reports: the staff report with its exports, reconciliation, and each class's matrix."""
from __future__ import annotations

import os
import time
import uuid

from flask import Blueprint, Response, abort, flash, request, send_file, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.utils import secure_filename

from babyowl.authz import STAFF_ROLES, TEACHING_ROLES, roles_required
from babyowl.blueprints.reports.forms import ReportFilterForm, SeparatorForm
from babyowl.models.base import utcnow
from babyowl.blueprints.reports.export_job import build_attendance_export
from babyowl.blueprints.reports.files import SEPARATORS, attendance_csv_chunks, matrix_pdf, xlsx_file
from babyowl.observability import EXPORT_SECONDS, timed_chunks
from babyowl.errors import error_response, on_refusal
from babyowl.rendering import redirect_to, render
from babyowl.storage import serve_file
from babyowl.services import attendance_reports, classes, credits
from babyowl.services.attendance_reports import ExportFilter
from babyowl.services.school_time import school_today

bp = Blueprint("reports", __name__)
PREVIEW_ROWS = 20
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _filter_form() -> ReportFilterForm:
    school_classes, instructors = attendance_reports.filter_choices()
    return ReportFilterForm(request.args, classes=school_classes, instructors=instructors)


def _report_page(form: ReportFilterForm):
    valid = form.validate()
    filters = form.filters() if valid else None
    # The whole school's history is counted and previewed by no one who has not asked: it only grows.
    shown = valid and not attendance_reports.is_unfiltered(filters)
    return render("reports/index.html", block="results", status=200 if valid else 422, form=form,
                  count=attendance_reports.export_count(filters) if shown else None,
                  preview=attendance_reports.preview_rows(filters, PREVIEW_ROWS) if shown else [],
                  query=request.query_string.decode())


def _csv(filters: ExportFilter, separator: str, name: str) -> Response:
    chunks = timed_chunks(attendance_csv_chunks(filters, SEPARATORS[separator]), "csv")
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


def _xlsx(filters: ExportFilter, name: str) -> Response:
    start = time.perf_counter()
    path = xlsx_file(attendance_reports.export_rows(filters))
    EXPORT_SECONDS.labels("xlsx").observe(time.perf_counter() - start)
    response = send_file(path, mimetype=XLSX_TYPE, as_attachment=True, download_name=f"{name}.xlsx")
    response.call_on_close(lambda: os.remove(path))
    return response


def _name(*parts: str) -> str:
    return secure_filename("-".join(("attendance", *parts, school_today().isoformat()))) or "attendance"


@bp.route("/reports")
@roles_required(*STAFF_ROLES)
def index():
    return _report_page(_filter_form())


def _too_big(form: ReportFilterForm, file_format: str):
    """An export above EXPORT_JOB_ROWS rows: a page that offers to build it in the background (a POST)."""
    return render("reports/export_job.html", form=form, file_format=file_format,
                  count=attendance_reports.export_count(form.filters()))


@bp.route("/reports/attendance.csv")
@roles_required(*STAFF_ROLES)
def attendance_csv():
    form = _filter_form()
    if not form.validate():
        return _report_page(form)
    if attendance_reports.needs_job(form.filters()):
        return _too_big(form, "csv")
    return _csv(form.filters(), form.separator.data, _name())


@bp.route("/reports/attendance.xlsx")
@roles_required(*STAFF_ROLES)
def attendance_xlsx():
    form = _filter_form()
    if not form.validate():
        return _report_page(form)
    if attendance_reports.needs_job(form.filters()):
        return _too_big(form, "xlsx")
    return _xlsx(form.filters(), _name())


@bp.route("/reports/exports", methods=["POST"])
@roles_required(*STAFF_ROLES)
def request_export():
    """Build a large export in the background; the person is notified with a download link."""
    school_classes, instructors = attendance_reports.filter_choices()
    form = ReportFilterForm(request.form, classes=school_classes, instructors=instructors)
    back = url_for("reports.index", **{k: v for k, v in request.form.items() if k in form.data and v})
    if not form.validate():
        return _report_page(form)
    with on_refusal(redirect_to_url=back):
        attendance_reports.request_export(current_user, form.filters(), request.form.get("format", ""),
                                          form.separator.data, _name(), build=build_attendance_export)
    flash(_("The export is being prepared. You will get a notification with a download link when it is ready."),
          "success")
    return redirect_to(back)


@bp.route("/reports/exports/<token>")
@roles_required(*STAFF_ROLES)
def exported(token: str):
    """The file of a notification's link: signed for this person, valid EXPORT_LINK_SECONDS (S3: a short-lived
    signed URL; local storage: streamed)."""
    with on_refusal(lambda refused: error_response(refused.status_code, refused.message)):
        key, filename = attendance_reports.exported_file(current_user, token)
    return serve_file(key, download_name=filename, cache_control="private, no-store")


@bp.route("/reports/reconciliation")
@roles_required(*STAFF_ROLES)
def reconciliation():
    return render("reports/reconciliation.html", discrepancies=credits.reconciliation())


def _reported_class(class_id: uuid.UUID):
    school_class = classes.class_for(current_user, class_id)
    if not credits.may_adjust(current_user, school_class):
        abort(403)
    return school_class


@bp.route("/classes/<uuid:class_id>/attendance/report")
@roles_required(*TEACHING_ROLES)
def class_report(class_id: uuid.UUID):
    school_class = _reported_class(class_id)
    return render("reports/class_report.html", school_class=school_class,
                  matrix=attendance_reports.matrix(school_class), separator_form=SeparatorForm(request.args))


@bp.route("/classes/<uuid:class_id>/attendance/report.csv")
@roles_required(*TEACHING_ROLES)
def class_csv(class_id: uuid.UUID):
    school_class = _reported_class(class_id)
    separator = request.args.get("separator", "comma")
    return _csv(ExportFilter(class_id=school_class.id), separator if separator in SEPARATORS else "comma",
                _name(school_class.name))


@bp.route("/classes/<uuid:class_id>/attendance/report.xlsx")
@roles_required(*TEACHING_ROLES)
def class_xlsx(class_id: uuid.UUID):
    school_class = _reported_class(class_id)
    return _xlsx(ExportFilter(class_id=school_class.id), _name(school_class.name))


@bp.route("/classes/<uuid:class_id>/attendance/report.pdf")
@roles_required(*TEACHING_ROLES)
def class_pdf(class_id: uuid.UUID):
    school_class = _reported_class(class_id)
    pdf = matrix_pdf(attendance_reports.matrix(school_class), utcnow())
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{_name(school_class.name)}.pdf"'})
