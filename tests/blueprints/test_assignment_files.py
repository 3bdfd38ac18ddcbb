"""Handing in assignments: the same tests against local storage and against S3 (boto3 talking to a real
S3-compatible HTTP server: moto's server mode, tests/storage_fixtures.py)."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from babyowl.models import AssignmentSubmission, ExerciseProgress
from tests.factories import make_user
from tests.helpers import flashes, reload, text
from tests.learning_data import ASSIGNMENT, HX, exercise, make_setup, sign_in
from tests.storage_fixtures import download, stored_keys

PDF = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n"


@pytest.fixture
def app(make_app, storage_config):
    return make_app(**storage_config)


@pytest.fixture
def setup(db):
    return make_setup(unlocked=1, lessons=2)


@pytest.fixture
def assignment(setup):
    return exercise(setup.lessons[0], "assignment", ASSIGNMENT, "Tugas sapaan")


def hand_in(client, setup, assignment, name="tugas akhir.pdf", data=PDF, htmx=False, **fields):
    form = {"kind": "file", "comment": "Sudah selesai", **fields}
    if name is not None:
        form["file"] = (io.BytesIO(data), name)
    return client.post(setup.url(assignment, "submissions"), data=form, content_type="multipart/form-data",
                       headers=HX if htmx else {})


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_a_file_is_handed_in_under_a_random_key_and_the_student_downloads_it(app, client, db, setup, assignment,
                                                                            htmx):
    sign_in(client, setup.student)
    response = hand_in(client, setup, assignment, htmx=htmx)
    submission = db.session.scalar(select(AssignmentSubmission))
    if htmx:
        fragment = text(response)
        assert response.status_code == 200 and "<html" not in fragment
        assert "Your work is handed in." in fragment and "tugas akhir.pdf" in fragment and "Version 1" in fragment
        assert f'id="status-{assignment.id}" hx-swap-oob="true"' in fragment and "✓ Done" in fragment
    else:
        assert response.status_code == 303
        assert "Your work is handed in. Your instructor will grade it." in flashes(
            client.get(response.headers["Location"]))
    assert (submission.type, submission.version, submission.status, submission.file_name, submission.file_size,
            submission.comment, submission.max_grade) == ("file", 1, "pending", "tugas akhir.pdf", len(PDF),
                                                          "Sudah selesai", 50)
    assert submission.file_url.startswith(f"submissions/{assignment.id.hex}/") and "tugas" not in submission.file_url
    assert len(submission.file_url.rsplit("/", 1)[1]) == len("0123456789abcdef0123456789abcdef.pdf")
    assert stored_keys(app) == [submission.file_url]
    status, body, disposition = download(client, f"/learn/submissions/{submission.id}/file")
    assert (status, body) == (200, PDF) and "attachment" in disposition
    assert db.session.scalar(select(ExerciseProgress.completed)) is True
    assert reload(db, setup.enrollment).exercises_completed == 1


def test_only_the_student_the_class_instructor_and_staff_may_download(app, client, db, setup, assignment):
    sign_in(client, setup.student)
    hand_in(client, setup, assignment)
    submission = db.session.scalar(select(AssignmentSubmission))
    url = f"/learn/submissions/{submission.id}/file"
    for outsider in (make_user("student"), make_user("instructor")):
        sign_in(client, outsider)
        response = client.get(url)
        assert response.status_code == 404 and "Location" not in response.headers
    for insider in (setup.teacher, make_user("staff"), make_user("super_admin")):
        sign_in(client, insider)
        assert download(client, url)[:2] == (200, PDF)


def test_resubmitting_makes_a_new_version_and_keeps_the_old_one(app, client, db, setup, assignment):
    sign_in(client, setup.student)
    hand_in(client, setup, assignment, name="v1.pdf")
    second = PDF + b"% revised\n"
    hand_in(client, setup, assignment, name="v2.pdf", data=second)
    first_row, second_row = db.session.scalars(select(AssignmentSubmission).order_by(AssignmentSubmission.version))
    assert (first_row.version, second_row.version) == (1, 2) and first_row.file_url != second_row.file_url
    assert stored_keys(app) == sorted([first_row.file_url, second_row.file_url])
    assert download(client, f"/learn/submissions/{first_row.id}/file")[1] == PDF
    assert download(client, f"/learn/submissions/{second_row.id}/file")[1] == second
    page = text(client.get(setup.lesson_url(setup.lessons[0])))
    assert "Version 2" in page and "Version 1" in page and "Hand in a new version" in page


BAD_FILES = [
    ("tugas.exe", PDF, "This file type is not accepted here. Allowed: .py, .pdf."),
    ("tugas", PDF, "This file type is not accepted here."),
    ("tugas.pdf", b"MZ\x90\x00 not a pdf", "This file is not a real .pdf file."),
    ("tugas.py", b"print('hi')\x00\xff\xfe", "This file is not a text file (.py)."),
    ("tugas.pdf", b"", "The file is empty."),
    ("besar.pdf", b"%PDF-" + b"0" * (1024 * 1024), "The file is larger than 1 MB."),
    (None, b"", "Choose the file to hand in."),
]


@pytest.mark.parametrize("name, data, message", BAD_FILES)
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_a_bad_file_is_refused_with_a_message_and_nothing_is_stored(app, client, db, setup, assignment, name, data,
                                                                    message, htmx):
    sign_in(client, setup.student)
    response = hand_in(client, setup, assignment, name=name, data=data, htmx=htmx)
    assert response.status_code == 422 and message in text(response)
    assert ("<html" in text(response)) is not htmx  # a plain post gets the whole lesson page again
    assert "Sudah selesai" in text(response)  # the comment typed is kept in the form
    assert db.session.scalar(select(func.count()).select_from(AssignmentSubmission)) == 0
    assert stored_keys(app) == []
    assert db.session.scalar(select(func.count()).select_from(ExerciseProgress)) == 0


def test_a_python_file_is_accepted_as_text(app, client, db, setup, assignment):
    sign_in(client, setup.student)
    assert hand_in(client, setup, assignment, name="halo.py", data="print('Halo, dunia')\n".encode()).status_code \
        == 303
    submission = db.session.scalar(select(AssignmentSubmission))
    assert download(client, f"/learn/submissions/{submission.id}/file")[1] == b"print('Halo, dunia')\n"
