"""Building a large attendance export in the background (the `default` queue).

It lives beside the report writers it uses (the reports blueprint owns them;
nothing outside the blueprints imports a blueprint), and is queued through the
jobs facade by `attendance_reports.request_export`.

An export above `EXPORT_JOB_ROWS` rows would hold a web worker for many
seconds (issue 22: 44 s for the school's xlsx), so the person asks for it with
a POST and this job writes the file (the reports blueprint's writers), stores
it through the storage edge, then notifies them with a signed, expiring
download link. Safe to run twice: the file's key and the notification's event
key both come from the request's id, so a second run overwrites the same file
and notifies nobody twice.
"""
from __future__ import annotations

import os
import tempfile
import time
import uuid

from babyowl.blueprints.reports.files import SEPARATORS, attendance_csv_chunks, xlsx_file
from babyowl.jobs.context import with_app_context


@with_app_context
def build_attendance_export(request_id: str, user_id: str, filters: dict, file_format: str,
                            separator: str, name: str) -> str:
    from babyowl.observability import EXPORT_SECONDS
    from babyowl.services import attendance_reports
    from babyowl.storage import get_storage
    from babyowl.transactions import end_read

    started = time.perf_counter()
    chosen = attendance_reports.filters_from_dict(filters)
    if file_format == "xlsx":
        path = xlsx_file(attendance_reports.export_rows(chosen))
    else:
        handle, path = tempfile.mkstemp(prefix="babyowl-", suffix=".csv")
        with os.fdopen(handle, "wb") as out:
            for chunk in attendance_csv_chunks(chosen, SEPARATORS.get(separator, ",")):
                out.write(chunk)
    end_read()  # no transaction stays open while the file is stored
    key = f"{attendance_reports.EXPORTS_PREFIX}/{request_id}.{file_format}"
    try:
        with open(path, "rb") as stored:
            get_storage().save(key, stored, attendance_reports.EXPORT_TYPES[file_format])
    finally:
        os.remove(path)
    EXPORT_SECONDS.labels(f"{file_format}_job").observe(time.perf_counter() - started)
    attendance_reports.export_ready(request_id, uuid.UUID(user_id), key, f"{name}.{file_format}")
    return key
