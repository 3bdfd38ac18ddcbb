"""Report writers: CSV (streamed), xlsx (XlsxWriter, constant memory) and the printable PDF matrix (reportlab).

They format the plain rows that `services.attendance_reports` produces and
know nothing of the database.

The long-format columns are stable identifiers, not translated: staff scripts
and spreadsheets that read them keep working whatever the reader's language.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _

from babyowl.i18n import date_local, datetime_local, percent
from babyowl.services import attendance_reports
from babyowl.services.attendance_reports import COLUMNS, ExportFilter, ExportRow, Matrix, guarded

SEPARATORS = {"comma": ",", "semicolon": ";"}
FLUSH_AT = 64 * 1024
# Day 0 of Excel's serial dates (1900 system; the export's dates all come after its 1900-02-29 quirk).
EXCEL_EPOCH, EXCEL_EPOCH_DATE, DAY = datetime(1899, 12, 30), date(1899, 12, 30), timedelta(days=1)


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["SCHOOL_TIMEZONE"])


def _local(value: datetime | None, zone: ZoneInfo | None = None) -> datetime | None:
    return value.astimezone(zone or _zone()) if value else None


def csv_chunks(rows: Iterable[Sequence], separator: str) -> Iterator[str]:
    """UTF-8 with BOM (Excel then reads Indonesian names right), header first, nothing above it, lines ending in
    LF as PostgreSQL's COPY writes them (`attendance_csv_chunks`).

    `rows` are already the cells as printed (`attendance_reports.export_text_rows`): the writer only joins them.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\n")
    write, tell = writer.writerow, buffer.tell
    buffer.write("\ufeff")
    write(COLUMNS)
    for row in rows:
        write(row)
        if tell() >= FLUSH_AT:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def attendance_csv_chunks(filters: ExportFilter, separator: str) -> Iterator[bytes]:
    """The attendance export as CSV bytes: the BOM and header at once (the download starts before the query has
    sorted the school), then PostgreSQL's own CSV of the rows, or, on SQLite, `csv_chunks` of the same cells."""
    blocks = attendance_reports.export_csv_from_database(filters, separator)
    if blocks is None:
        for chunk in csv_chunks(attendance_reports.export_text_rows(filters), separator):
            yield chunk.encode("utf-8")
        return
    header = io.StringIO()
    csv.writer(header, delimiter=separator, lineterminator="\n").writerow(COLUMNS)
    yield ("\ufeff" + header.getvalue()).encode("utf-8")
    yield from blocks


def xlsx_file(rows: Iterable[ExportRow]) -> str:
    """The same rows as a workbook on disk; the caller removes it.

    XlsxWriter's constant-memory mode writes each row as it comes (memory stays
    flat) and about twice as fast as openpyxl's write-only mode (issue 22:
    19.6 s against 44 s for 102,000 rows). Text is written as typed (never a formula: strings_to_formulas is off,
    so the CSV's guarding quote has no place here); dates and times are real cells, local since Excel has no zones.
    """
    import xlsxwriter

    handle, path = tempfile.mkstemp(prefix="babyowl-", suffix=".xlsx")
    os.close(handle)
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False,
                                          "strings_to_urls": False})
    sheet = workbook.add_worksheet("attendance")
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    time_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_row(0, 0, COLUMNS)
    zone = _zone()
    string, number = sheet.write_string, sheet.write_number

    def moment(r: int, c: int, value: datetime, cell_format) -> None:
        # Excel's serial day number of the local time: what write_datetime() stores, without its checks per cell.
        number(r, c, (value.astimezone(zone).replace(tzinfo=None) - EXCEL_EPOCH) / DAY, cell_format)

    for r, row in enumerate(rows, start=1):
        string(r, 0, row.attendance_id)
        string(r, 1, row.class_id)
        string(r, 2, row.class_name)
        string(r, 3, row.course)
        if row.instructor is not None:
            string(r, 4, row.instructor)
        number(r, 5, row.meeting_number)
        number(r, 6, (row.meeting_date - EXCEL_EPOCH_DATE).days, date_format)
        string(r, 7, row.student_id)
        string(r, 8, row.student_name)
        string(r, 9, row.student_email)
        string(r, 10, row.status)
        number(r, 11, int(row.credit_deducted))
        number(r, 12, row.credits_remaining_after)
        if row.marked_by is not None:
            string(r, 13, row.marked_by)
        moment(r, 14, row.marked_at, time_format)
        if row.changed_by is not None:
            string(r, 15, row.changed_by)
        if row.changed_at is not None:
            moment(r, 16, row.changed_at, time_format)
        if row.note:
            string(r, 17, row.note)
    workbook.close()
    return path


def _pdf_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    path = current_app.config.get("PDF_FONT")
    if not path or not os.path.exists(path):
        return "Helvetica"  # Latin-1 only: other scripts print as boxes
    if "BabyOwlSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("BabyOwlSans", path))
    return "BabyOwlSans"


MEETINGS_PER_TABLE = 16


def matrix_pdf(matrix: Matrix, printed_at: datetime) -> bytes:
    """The class's matrix on landscape A4, meetings split over several tables when there are many."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _pdf_font()
    styles = getSampleStyleSheet()
    for style in styles.byName.values():
        style.fontName = font
    symbols = {"present": _("P"), "late": _("L"), "absent": _("A")}
    story = [Paragraph(_("Attendance: %(name)s", name=matrix.class_name), styles["Title"]),
             Paragraph(_("Course: %(course)s · Instructor: %(instructor)s · Printed %(when)s",
                         course=matrix.course_title, instructor=matrix.instructor_name or "—",
                         when=datetime_local(printed_at, "short")), styles["Normal"]),
             Spacer(1, 4 * mm)]
    groups = [matrix.meetings[i:i + MEETINGS_PER_TABLE]
              for i in range(0, len(matrix.meetings), MEETINGS_PER_TABLE)] or [[]]
    for number, meetings in enumerate(groups):
        last = number == len(groups) - 1
        header = [_("Student")] + [f"{n}\n{date_local(matrix.meeting_dates[n], 'short')}" for n in meetings]
        if last:
            header += [_("Present"), _("Late"), _("Absent"), _("Rate"), _("Credits left")]
        data = [header]
        for row in matrix.rows:
            line = [row.student_name]
            line += [symbols[row.marks[n]] if n in row.marks else "" for n in meetings]
            if last:
                line += [row.attended - row.late, row.late, row.absent, percent(row.rate),
                         row.credits_remaining]
            data.append(line)
        totals = [_("Attendance rate")] + [percent(matrix.totals[n].rate) for n in meetings]
        if last:
            totals += ["", "", "", percent(matrix.rate), ""]
        data.append(totals)
        table = Table(data, repeatRows=1)
        table.setStyle(TableStyle([
            ("FONT", (0, 0), (-1, -1), font, 8),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
            ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#eeeeee")),
            ("ALIGN", (1, 0), (-1, -1), "CENTER"),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ]))
        story += [table, Spacer(1, 4 * mm)]
    story.append(Paragraph(_("P = present, L = late, A = absent. Present and late use a meeting credit."),
                           styles["Normal"]))
    output = io.BytesIO()
    SimpleDocTemplate(output, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm,
                      topMargin=12 * mm, bottomMargin=12 * mm, title=matrix.class_name).build(story)
    return output.getvalue()



# Plain tables (the payments export): the same conventions as the attendance export -----------------

def _plain(value):
    from datetime import date as _date
    from decimal import Decimal

    if isinstance(value, datetime):
        return value.astimezone(ZoneInfo("UTC")).isoformat(timespec="seconds")
    if isinstance(value, _date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if value is None:
        return ""
    return guarded(value) if isinstance(value, str) else value


def table_csv_chunks(columns: Iterable[str], rows: Iterable[list], separator: str) -> Iterator[str]:
    """UTF-8 with BOM, stable column ids as the header, ISO dates (UTC), amounts as plain decimals."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writerow(list(columns))
    for row in rows:
        writer.writerow([_plain(value) for value in row])
        if buffer.tell() >= FLUSH_AT:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def table_xlsx_file(columns: Iterable[str], rows: Iterable[list], sheet_name: str) -> str:
    """The same rows as a workbook on disk (numbers as numbers, times as local date-times); the caller removes it."""
    from decimal import Decimal

    import xlsxwriter

    handle, path = tempfile.mkstemp(prefix="babyowl-", suffix=".xlsx")
    os.close(handle)
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "strings_to_formulas": False,
                                          "strings_to_urls": False})
    sheet = workbook.add_worksheet(sheet_name)
    time_format = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_row(0, 0, list(columns))
    for number, row in enumerate(rows, start=1):
        for index, value in enumerate(row):
            if isinstance(value, datetime):
                sheet.write_datetime(number, index, _local(value).replace(tzinfo=None), time_format)
            elif isinstance(value, Decimal):
                sheet.write_number(number, index, float(value))
            elif isinstance(value, str):
                sheet.write_string(number, index, value)
            elif value is not None:
                sheet.write(number, index, value)
    workbook.close()
    return path


def receipt_pdf(receipt) -> bytes:
    """A one-page A5 receipt for a verified payment, in DejaVu Sans (PDF_FONT) so every name prints."""
    from reportlab.lib.pagesizes import A5
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    from babyowl.money import format_rupiah

    font = _pdf_font()
    styles = getSampleStyleSheet()
    for style in styles.byName.values():
        style.fontName = font
    rows = [[_("Receipt number"), receipt.number], [_("Student"), f"{receipt.student_name} ({receipt.student_email})"],
            [_("Class"), receipt.class_name], [_("Course"), receipt.course],
            [_("Meetings"), str(receipt.meetings)], [_("Price"), format_rupiah(receipt.amount_due)],
            [_("Unique code"), str(receipt.unique_code)],
            [_("Amount received"), format_rupiah(receipt.amount_received)]]
    if receipt.amount_refunded:
        rows.append([_("Refunded"), format_rupiah(receipt.amount_refunded)])
    rows.append([_("Verified"), f"{datetime_local(receipt.verified_at, 'short')} · {receipt.verified_by or '—'}"])
    table = Table(rows, colWidths=[38 * mm, 80 * mm])
    table.setStyle(TableStyle([("FONT", (0, 0), (-1, -1), font, 9), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story = [Paragraph(receipt.school, styles["Title"]), Paragraph(_("Payment receipt"), styles["Heading2"]),
             Spacer(1, 4 * mm), table, Spacer(1, 6 * mm),
             Paragraph(_("Thank you. This receipt was issued by %(school)s.", school=receipt.school), styles["Normal"])]
    output = io.BytesIO()
    SimpleDocTemplate(output, pagesize=A5, leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
                      bottomMargin=12 * mm, title=receipt.number).build(story)
    return output.getvalue()
