"""Pictures of community posts on local storage and on S3 (boto3 against moto's server mode, no network)."""
from __future__ import annotations

import io
from pathlib import Path

import boto3
import pytest
import requests
from PIL import Image
from sqlalchemy import select

from babyowl.models import CommunityPost, CommunityPostImage
from babyowl.services import community
from tests.factories import make_user
from tests.helpers import signed_in_client

BUCKET = "babyowl-community"
REGION = "ap-southeast-3"


@pytest.fixture(scope="module")
def s3_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_endpoint(s3_server, monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name=REGION)
    if BUCKET not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    return s3_server


@pytest.fixture(params=["local", "s3"])
def app(request, make_app):
    if request.param == "local":
        return make_app(STORAGE_BACKEND="local")
    return make_app(STORAGE_BACKEND="s3", S3_BUCKET=BUCKET, S3_REGION=REGION,
                    S3_ENDPOINT_URL=request.getfixturevalue("s3_endpoint"))


def picture(fmt="PNG") -> io.BytesIO:
    buffer = io.BytesIO()
    Image.new("RGBA" if fmt == "PNG" else "RGB", (64, 48), (255, 0, 0, 255) if fmt == "PNG" else "red").save(
        buffer, fmt)
    buffer.seek(0)
    return buffer


def fetch(client, url) -> tuple[int, bytes]:
    response = client.get(url)
    if response.status_code == 302:  # S3: a short-lived signed link
        fetched = requests.get(response.headers["Location"], timeout=10)
        return fetched.status_code, fetched.content
    return response.status_code, response.get_data()


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
    status, content = fetch(classmate, f"/community/images/{keys[0]}")
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
    if app.config["STORAGE_BACKEND"] == "s3":
        s3 = boto3.client("s3", endpoint_url=app.config["S3_ENDPOINT_URL"], region_name=REGION)
        assert s3.list_objects_v2(Bucket=BUCKET).get("Contents", []) == []
    else:
        root = Path(app.config["STORAGE_DIR"])
        assert [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")] == []
