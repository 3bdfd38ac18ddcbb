"""Exports above EXPORT_JOB_ROWS rows: asked for with a POST, built by a job through the storage edge (local and
S3, the moto server of tests/storage_fixtures.py), fetched through a signed link that expires (issue 22)."""
from __future__ import annotations

import csv
import io
import re

import pytest
import requests
from openpyxl import load_workbook
from sqlalchemy import select

from babyowl.models import Notification
from babyowl.services.attendance_reports import COLUMNS
from tests.helpers import flashes, signed_in_client, text
from tests.storage_fixtures import stored_keys
from tests.report_school import EXPECTED, build_school


@pytest.fixture
def app(make_app, storage_config):
    # Above 3 rows an export is a job here; no Redis: the job runs inline, as in development.
    return make_app(**storage_config, EXPORT_JOB_ROWS=3)


@pytest.fixture
def school(db):
    return build_school()


@pytest.fixture
def staff(app, school):
    return signed_in_client(app, school.staff)


def download(client, app, link):
    response = client.get(link)
    if app.config["STORAGE_BACKEND"] == "s3":  # a short-lived signed URL of the bucket
        assert response.status_code == 302 and "X-Amz-Expires=300" in response.headers["Location"]
        fetched = requests.get(response.headers["Location"], timeout=10)
        assert fetched.status_code == 200
        return fetched.content
    assert response.status_code == 200 and response.headers["Cache-Control"] == "private, no-store"
    return response.get_data()


def the_link(db, user):
    db.session.expire_all()
    notification = db.session.scalars(select(Notification).where(Notification.user_id == user.id)).one()
    assert notification.title == "Your attendance export is ready"
    return notification.link


def test_a_large_csv_export_is_built_by_a_job_and_downloaded_from_the_notification(app, db, school, staff):
    offer = staff.get("/reports/attendance.csv?separator=semicolon")
    assert offer.status_code == 200 and "too many to download at once" in text(offer)
    assert 'action="/reports/exports"' in text(offer) and 'name="format" value="csv"' in text(offer)
    posted = staff.post("/reports/exports", data={"format": "csv", "separator": "semicolon"})
    assert posted.status_code == 303
    told = " ".join(flashes(staff.get(posted.headers["Location"])))
    assert "You will get a notification with a download link" in told
    body = download(staff, app, the_link(db, school.staff))
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == list(COLUMNS) and len(rows) - 1 == len(EXPECTED)


def test_a_large_xlsx_export_too(app, db, school, staff):
    assert "too many" in text(staff.get("/reports/attendance.xlsx"))
    assert staff.post("/reports/exports", data={"format": "xlsx"}).status_code == 303
    sheet = load_workbook(io.BytesIO(download(staff, app, the_link(db, school.staff)))).active
    assert [cell.value for cell in sheet[1]] == list(COLUMNS) and sheet.max_row - 1 == len(EXPECTED)


def test_an_export_up_to_the_limit_still_streams_at_once(app, db, school, staff):
    app.config["EXPORT_JOB_ROWS"] = len(EXPECTED)
    response = staff.get("/reports/attendance.csv")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    assert response.get_data().count(b"\n") == len(EXPECTED) + 1
    assert db.session.scalars(select(Notification)).all() == []


def test_the_link_expires_and_belongs_to_its_owner_only(app, db, school, staff):
    staff.post("/reports/exports", data={"format": "csv"})
    link = the_link(db, school.staff)
    from tests.factories import make_user

    other = signed_in_client(app, make_user("staff"))
    assert other.get(link).status_code == 404
    assert staff.get(re.sub(r"/exports/(.)", r"/exports/x\1", link)).status_code == 404
    app.config["EXPORT_LINK_SECONDS"] = -1  # every link is older than that
    expired = staff.get(link)
    assert expired.status_code == 410 and "This download link has expired." in text(expired)


def test_an_unknown_format_is_refused(app, db, school, staff):
    response = staff.post("/reports/exports", data={"format": "pdf"})
    assert response.status_code == 303
    assert "Choose CSV or Excel." in flashes(staff.get(response.headers["Location"]))
    assert db.session.scalars(select(Notification)).all() == []


def test_an_expired_export_is_deleted_from_storage_by_the_sweep_and_its_link_says_it_expired(app, db, school, staff):
    from babyowl.jobs.announcements import sweep

    staff.post("/reports/exports", data={"format": "xlsx"})
    link = the_link(db, school.staff)
    with app.app_context():
        assert sweep()["expired_exports"] == 0  # younger than its link: kept
    [key] = [k for k in stored_keys(app) if k.startswith("exports/")]
    assert key.endswith(".xlsx") and download(staff, app, link).startswith(b"PK")

    app.config["EXPORT_LINK_SECONDS"] = -1  # every stored export is now older than its link
    with app.app_context():
        assert sweep()["expired_exports"] == 1
    assert key not in stored_keys(app)

    app.config["EXPORT_LINK_SECONDS"] = 24 * 3600  # the link's signature is still good; the file is gone
    gone = staff.get(link)
    assert gone.status_code == 410 and "This download link has expired. Ask for the export again." in text(gone)
