"""File storage: the same tests against the local directory and S3 (moto, no network).

No database here: the backends only need a config dict.
"""
from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from flask import Flask
from moto import mock_aws

from babyowl.storage import LocalStorage, S3Storage, StoredFile, get_storage, new_key, validate_key

BUCKET = "babyowl-test-uploads"
REGION = "ap-southeast-3"  # Jakarta, where the school would keep its bucket

BAD_KEYS = [
    "../../etc/passwd",
    "uploads/../../secret",
    "/etc/passwd",
    "..",
    ".",
    "a/./b",
    "uploads\\evil.pdf",
    "uploads//double.pdf",
    "uploads/",
    "",
    "uploads/with space.pdf",
    "uploads/ünïcode.pdf",
    "uploads/semi;colon.pdf",
    "uploads/.hidden",
    "uploads/x.pdf\x00.png",
]


@pytest.fixture
def aws(monkeypatch):
    # Fake credentials and no profile/endpoint overrides: even if moto missed a
    # call, nothing could authenticate against a real account.
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_SECURITY_TOKEN": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield


def _config(kind: str, tmp_path: Path) -> dict:
    if kind == "local":
        return {"STORAGE_BACKEND": "local", "STORAGE_DIR": str(tmp_path / "uploads")}
    return {"STORAGE_BACKEND": "s3", "S3_BUCKET": BUCKET, "S3_REGION": REGION, "S3_ENDPOINT_URL": None}


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "s3":
        request.getfixturevalue("aws")
    return get_storage(_config(request.param, tmp_path))


@pytest.fixture
def local(tmp_path):
    return get_storage(_config("local", tmp_path))


@pytest.fixture
def s3(aws, tmp_path):
    return get_storage(_config("s3", tmp_path))


# --- Behaviour shared by both backends ---------------------------------------------

def test_save_then_read_gives_the_same_bytes_and_content_type(storage):
    data = bytes(range(256)) * 10
    stored = storage.save("submissions/7/report.pdf", data, "application/pdf")
    assert stored == StoredFile(key="submissions/7/report.pdf", size=len(data), content_type="application/pdf")
    assert storage.read("submissions/7/report.pdf") == (data, "application/pdf")


def test_saving_again_replaces_the_bytes_and_the_content_type(storage):
    storage.save("avatars/1.img", b"first", "image/png")
    storage.save("avatars/1.img", b"second!", "image/jpeg")
    assert storage.read("avatars/1.img") == (b"second!", "image/jpeg")


def test_saving_an_empty_file_works(storage):
    assert storage.save("empty/none.txt", b"", "text/plain").size == 0
    assert storage.read("empty/none.txt") == (b"", "text/plain")


def test_exists_before_and_after_delete(storage):
    assert not storage.exists("materials/slides.pdf")
    storage.save("materials/slides.pdf", b"%PDF-1.7", "application/pdf")
    assert storage.exists("materials/slides.pdf")
    storage.delete("materials/slides.pdf")
    assert not storage.exists("materials/slides.pdf")
    with pytest.raises(FileNotFoundError):
        storage.read("materials/slides.pdf")


def test_deleting_one_key_leaves_its_neighbours(storage):
    storage.save("materials/a.txt", b"a", "text/plain")
    storage.save("materials/b.txt", b"b", "text/plain")
    storage.delete("materials/a.txt")
    assert storage.read("materials/b.txt") == (b"b", "text/plain")


def test_delete_of_a_missing_key_is_fine(storage):
    storage.delete("never/saved.pdf")
    storage.delete("never/saved.pdf")


def test_read_of_a_missing_key_raises_file_not_found(storage):
    with pytest.raises(FileNotFoundError):
        storage.read("never/saved.pdf")


def test_a_prefix_of_stored_keys_is_not_itself_a_file(storage):
    storage.save("submissions/9/code.zip", b"PK", "application/zip")
    assert not storage.exists("submissions/9")
    with pytest.raises(FileNotFoundError):
        storage.read("submissions/9")
    storage.delete("submissions/9")
    assert storage.exists("submissions/9/code.zip")


def test_saving_from_a_file_object_works(storage):
    data = b"0123456789abcdef" * 100_000  # 1.6 MB: more than one read chunk
    stored = storage.save("uploads/big.bin", io.BytesIO(data), "application/octet-stream")
    assert stored.size == len(data)
    assert storage.read("uploads/big.bin") == (data, "application/octet-stream")


def test_saving_from_an_open_file_works(storage, tmp_path):
    source = tmp_path / "source.csv"
    source.write_bytes(b"nama,nilai\nBudi,90\n")
    with source.open("rb") as handle:
        stored = storage.save("grades/export.csv", handle, "text/csv")
    assert stored.size == source.stat().st_size
    assert storage.read("grades/export.csv") == (source.read_bytes(), "text/csv")


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_bad_key_raises_value_error_in_every_method(storage, key):
    with pytest.raises(ValueError):
        storage.save(key, b"x", "text/plain")
    with pytest.raises(ValueError):
        storage.read(key)
    with pytest.raises(ValueError):
        storage.exists(key)
    with pytest.raises(ValueError):
        storage.delete(key)
    with pytest.raises(ValueError):
        storage.download_url(key, "x.txt")


def test_new_keys_differ_and_are_accepted_by_the_backend(storage):
    first, second = new_key("submissions/12", ".pdf"), new_key("submissions/12", ".pdf")
    assert first != second
    storage.save(first, b"1", "application/pdf")
    assert storage.exists(first) and not storage.exists(second)


# --- Keys ----------------------------------------------------------------------------

def test_new_key_matches_the_pattern():
    keys = {new_key("submissions/12", ".pdf") for _ in range(50)}
    assert len(keys) == 50
    for key in keys:
        assert re.fullmatch(r"submissions/12/[0-9a-f]{32}\.pdf", key)
    assert re.fullmatch(r"avatars/[0-9a-f]{32}", new_key("avatars", ""))
    assert re.fullmatch(r"avatars/[0-9a-f]{32}\.png", new_key("avatars", "png"))


@pytest.mark.parametrize("prefix", ["../outside", "/absolute", "", "a//b", "with space"])
def test_new_key_refuses_a_bad_prefix(prefix):
    with pytest.raises(ValueError):
        new_key(prefix, ".pdf")


@pytest.mark.parametrize("key", ["a", "a.pdf", "submissions/12/3f9a.pdf", "A-b_c/1.2.3/x.tar.gz"])
def test_validate_key_accepts_ordinary_keys(key):
    assert validate_key(key) == key


@pytest.mark.parametrize("key", BAD_KEYS + [None, b"bytes/key"])
def test_validate_key_refuses_bad_keys(key):
    with pytest.raises(ValueError):
        validate_key(key)


# --- Download URLs -------------------------------------------------------------------

def test_download_url_is_none_locally_so_the_app_streams_the_file(local):
    local.save("submissions/1/a.pdf", b"%PDF", "application/pdf")
    assert local.download_url("submissions/1/a.pdf") is None
    assert local.download_url("submissions/1/a.pdf", filename="Tugas 1.pdf", expires=60) is None


def test_s3_download_url_is_presigned_with_the_filename_as_attachment(s3):
    key = "submissions/1/3f9a.pdf"
    s3.save(key, b"%PDF-1.7 tugas", "application/pdf")
    url = s3.download_url(key, filename="Tugas Budi ü.pdf", expires=120)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert key in url and parts.path.endswith("/" + key)
    assert "response-content-disposition" in url
    disposition = query["response-content-disposition"][0]
    assert disposition.startswith("attachment;") and 'filename="Tugas Budi u.pdf"' in disposition
    assert "filename*=UTF-8''Tugas%20Budi%20%C3%BC.pdf" in disposition
    assert query["X-Amz-Expires"] == ["120"]
    # Regional host: the global one breaks presigned URLs in newer regions like this one.
    assert parts.netloc == f"{BUCKET}.s3.{REGION}.amazonaws.com"

    # moto answers the URL too (intercepted, no network), as S3 would.
    response = requests.get(url, timeout=5)
    assert response.status_code == 200 and response.content == b"%PDF-1.7 tugas"
    assert response.headers["Content-Disposition"] == disposition


def test_s3_download_url_without_a_filename_has_no_disposition(s3):
    s3.save("materials/x.png", b"png", "image/png")
    url = s3.download_url("materials/x.png")
    assert "materials/x.png" in url and "response-content-disposition" not in url
    assert "X-Amz-Expires=300" in url


def test_s3_download_url_quotes_are_not_passed_into_the_header(s3):
    url = s3.download_url("materials/x.png", filename='evil".png')
    disposition = parse_qs(urlsplit(url).query)["response-content-disposition"][0]
    assert disposition.startswith('attachment; filename="evil.png"')


# --- Local backend: staying inside STORAGE_DIR, atomic writes --------------------------

def _all_files(directory: Path) -> set[Path]:
    return {p for p in directory.rglob("*") if p.is_file()}


def _all_entries(directory: Path) -> set[Path]:
    return set(directory.rglob("*"))


def test_local_refuses_path_traversal_and_writes_nothing_outside_storage_dir(tmp_path):
    storage_dir = tmp_path / "deep" / "er" / "uploads"
    storage = LocalStorage({"STORAGE_DIR": str(storage_dir)})
    before = _all_entries(tmp_path)
    for key in BAD_KEYS + ["../../etc/passwd", "../uploads-sibling/x", "../../../../../../tmp/pwned"]:
        with pytest.raises(ValueError):
            storage.save(key, b"owned", "text/plain")
        with pytest.raises(ValueError):
            storage.save(key, io.BytesIO(b"owned"), "text/plain")
        with pytest.raises(ValueError):
            storage.delete(key)
    assert _all_entries(tmp_path) == before  # not even a directory
    assert not Path("/tmp/pwned").exists()

    storage.save("ok/file.txt", b"fine", "text/plain")
    written = _all_files(tmp_path) - before
    assert written and all(p.is_relative_to(storage_dir) for p in written)


def test_local_refuses_a_symlink_that_leads_outside_storage_dir(tmp_path):
    storage_dir, outside = tmp_path / "uploads", tmp_path / "outside"
    storage_dir.mkdir()
    outside.mkdir()
    (storage_dir / "link").symlink_to(outside, target_is_directory=True)
    storage = LocalStorage({"STORAGE_DIR": str(storage_dir)})
    with pytest.raises(ValueError):
        storage.save("link/x.txt", b"owned", "text/plain")
    assert list(outside.iterdir()) == []


def test_local_keeps_the_file_under_its_key_with_a_hidden_sidecar(tmp_path, local):
    local.save("submissions/3/a.pdf", b"%PDF", "application/pdf")
    directory = tmp_path / "uploads" / "submissions" / "3"
    assert (directory / "a.pdf").read_bytes() == b"%PDF"
    # Every other name starts with a dot, which no key can, so nothing collides.
    assert all(p.name.startswith(".") for p in directory.iterdir() if p.name != "a.pdf")
    local.delete("submissions/3/a.pdf")
    assert list(directory.iterdir()) == []


class _BrokenUpload(io.RawIOBase):
    """A client that disconnects after the first chunk."""

    def __init__(self):
        self.calls = 0

    def readable(self):
        return True

    def read(self, size=-1):
        self.calls += 1
        if self.calls > 1:
            raise ConnectionResetError("client went away")
        return b"partial" * 1000


def test_local_write_is_atomic_a_failed_upload_leaves_the_old_file(tmp_path, local):
    local.save("avatars/7.png", b"old picture", "image/png")
    with pytest.raises(ConnectionResetError):
        local.save("avatars/7.png", _BrokenUpload(), "image/png")
    assert local.read("avatars/7.png") == (b"old picture", "image/png")
    directory = tmp_path / "uploads" / "avatars"
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_local_without_a_sidecar_falls_back_to_octet_stream(tmp_path, local):
    path = tmp_path / "uploads" / "legacy" / "old.bin"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"from before")
    assert local.read("legacy/old.bin") == (b"from before", "application/octet-stream")


# --- Choosing the backend -------------------------------------------------------------

def test_get_storage_follows_the_given_config(tmp_path, aws):
    assert isinstance(get_storage(_config("local", tmp_path)), LocalStorage)
    s3 = get_storage(_config("s3", tmp_path))
    assert isinstance(s3, S3Storage) and s3.bucket == BUCKET
    assert s3.client.meta.region_name == REGION


def test_get_storage_uses_the_current_app_config(tmp_path):
    app = Flask(__name__)  # a bare app: no database needed
    app.config.update(_config("local", tmp_path))
    with app.app_context():
        storage = get_storage()
        assert isinstance(storage, LocalStorage) and storage.root == tmp_path / "uploads"
        assert get_storage() is storage


def test_listed_names_the_files_under_a_prefix_with_when_they_were_written(storage):
    from datetime import datetime, timedelta, timezone

    before = datetime.now(timezone.utc) - timedelta(minutes=1)
    storage.save("exports/a.csv", b"a", "text/csv")
    storage.save("exports/deeper/b.xlsx", b"b", "application/octet-stream")
    storage.save("exportsX/c.csv", b"c", "text/csv")
    storage.save("other/d.csv", b"d", "text/csv")
    listed = dict(storage.listed("exports"))
    assert sorted(listed) == ["exports/a.csv", "exports/deeper/b.xlsx"], "no sidecar, no neighbouring prefix"
    assert all(before < written < before + timedelta(minutes=5) for written in listed.values())
    storage.delete("exports/a.csv")
    assert [key for key, _ in storage.listed("exports")] == ["exports/deeper/b.xlsx"]
    assert list(storage.listed("nothing-here")) == []
