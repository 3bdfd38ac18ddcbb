"""Pictures of community posts on local storage and on S3 (boto3 against moto's server mode, no network)."""
from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from babyowl.models import CommunityPost, CommunityPostImage
from babyowl.services import community
from tests.factories import make_user
from tests.helpers import signed_in_client
from tests.storage_fixtures import download, stored_keys


@pytest.fixture
def app(make_app, storage_config):
    return make_app(**storage_config)


def picture(fmt="PNG") -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGBA" if fmt == "PNG" else "RGB", (64, 48), (255, 0, 0, 255) if fmt == "PNG" else "red").save(
        buffer, fmt)
    buffer.seek(0)
    return buffer


def test_pictures_are_checked_re_encoded_stored_and_shown_only_to_who_may_see_the_post(app, client, db):
    author = make_user("student")
    browser = signed_in_client(app, author)
    response = browser.post("/community/posts", content_type="multipart/form-data", data={
        "content": "Gambarku", "where": "school",
        "images": [(picture("PNG"), "kura.png"), (picture("GIF"), "kura.gif")]})
    assert response.status_code == 303
    post = db.session.scalar(select(CommunityPost))
    keys = db.session.scalars(select(CommunityPostImage.storage_key).order_by(CommunityPostImage.position)).all()
    assert len(keys) == 2
    classmate = signed_in_client(app, make_user("student"))
    page = classmate.get(f"/community/posts/{post.id}").get_data(as_text=True)
    assert f"/community/images/{keys[0]}" in page
    status, content, _disposition = download(classmate, f"/community/images/{keys[0]}")
    assert status == 200 and content[:3] == b"\xff\xd8\xff"  # re-encoded as JPEG
    with Image.open(io.BytesIO(content)) as shown:
        assert shown.format == "JPEG" and shown.size == (64, 48)
    assert classmate.get("/community/images/community/0123456789abcdef0123456789abcdef.jpg").status_code == 404
    community.moderate_post(make_user("staff"), post.id, "remove", "Tes")
    assert classmate.get(f"/community/images/{keys[0]}").status_code == 404


def test_a_file_that_is_not_a_picture_is_refused_and_nothing_is_stored(app, client, db):
    browser = signed_in_client(app, make_user("student"))
    response = browser.post("/community/posts", content_type="multipart/form-data", headers={"HX-Request": "true"},
                            data={"content": "Ini gambar", "where": "school",
                                  "images": [(picture(), "ok.png"), (io.BytesIO(b"MZ\x90\x00evil"), "virus.png")]})
    assert response.status_code == 422 and "not a picture" in response.get_data(as_text=True)
    assert db.session.scalar(select(CommunityPost)) is None
    # The good picture was stored before the bad one was read: the refused post takes it away again.
    assert stored_keys(app) == []
