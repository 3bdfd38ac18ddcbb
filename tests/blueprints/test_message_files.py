"""Files sent with messages: the same tests against local storage and against S3 (boto3 talking to moto's
server, the fixtures of tests/storage_fixtures.py)."""
from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from babyowl.models import Message, MessageAttachment
from tests.blueprints.test_messages import sign_in
from tests.factories import make_class, make_enrollment, make_user
from tests.helpers import signed_in_client, text
from tests.storage_fixtures import download, stored_keys

HX = {"HX-Request": "true"}
PDF = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n"


@pytest.fixture
def school(db):
    from types import SimpleNamespace

    from babyowl.services import messages

    budi, siti = make_user("instructor", full_name="Budi Guru"), make_user("student", full_name="Siti Aminah")
    python = make_class(instructor=budi, name="Python Sabtu")
    make_enrollment(python, siti)
    conversation_id = messages.sync_class_conversation(python)
    db.session.commit()
    return SimpleNamespace(budi=budi, siti=siti, class_conversation=conversation_id)


@pytest.fixture
def app(make_app, storage_config):
    return make_app(**storage_config)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(out, "PNG")
    return out.getvalue()


def test_attachments_pictures_reencoded_pdfs_kept_served_only_to_members(app, client, db, school):
    sign_in(client, school.siti)
    url = f"/messages/{school.class_conversation}"
    for name, data in (("foto.png", _png()), ("tugas.pdf", PDF)):
        response = client.post(url, data={"text": "", "file": (io.BytesIO(data), name)},
                               content_type="multipart/form-data")
        assert response.status_code == 303
    pictures = db.session.scalars(select(MessageAttachment).order_by(MessageAttachment.content_type)).all()
    assert [(a.file_name, a.content_type) for a in pictures] == [("tugas.pdf", "application/pdf"),
                                                                 ("foto.jpg", "image/jpeg")]
    assert len([k for k in stored_keys(app) if k.startswith("messages/")]) == 2
    status, body, _disposition = download(client, f"/messages/files/{pictures[1].id}")
    assert status == 200 and body.startswith(b"\xff\xd8\xff")  # re-encoded as JPEG
    status, body, disposition = download(signed_in_client(app, school.budi), f"/messages/files/{pictures[0].id}")
    assert status == 200 and body == PDF and "tugas.pdf" in disposition
    outsider = signed_in_client(app, make_user("student"))
    assert outsider.get(f"/messages/files/{pictures[0].id}").status_code == 404


def test_a_fake_picture_and_a_too_large_file_are_refused_and_nothing_is_kept(app, client, db, school):
    app.config["MESSAGE_ATTACHMENT_MAX_MB"] = 1
    sign_in(client, school.siti)
    url = f"/messages/{school.class_conversation}"
    fake = client.post(url, data={"text": "lihat", "file": (io.BytesIO(b"MZ\x90 not a picture"), "foto.jpg")},
                       content_type="multipart/form-data", headers=HX)
    assert fake.status_code == 422 and "Send a picture (JPEG, PNG, GIF, WebP) or a PDF." in text(fake)
    big = client.post(url, data={"text": "", "file": (io.BytesIO(b"%PDF-" + b"0" * (1024 * 1024)), "besar.pdf")},
                      content_type="multipart/form-data", headers=HX)
    assert big.status_code == 422 and "larger than 1 MB" in text(big)
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0
    assert [k for k in stored_keys(app) if k.startswith("messages/")] == []
