"""The storage edge under test on both backends: local files, and S3 through boto3 against moto's server mode
(a real S3-compatible HTTP server on 127.0.0.1, no network). Registered in `tests/conftest.py` as a plugin.

A test module that runs against both backends overrides `app` with the parametrised `storage_config`:

    @pytest.fixture
    def app(make_app, storage_config):
        return make_app(**storage_config)
"""
from __future__ import annotations

from pathlib import Path

import boto3
import pytest
import requests

BUCKET = "babyowl-test-files"
REGION = "ap-southeast-3"  # Jakarta, where the school would keep its bucket


@pytest.fixture(scope="session")
def s3_server():
    """The moto S3 server, started once for the session; its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_endpoint(s3_server, monkeypatch):
    """The server's endpoint with an empty BUCKET, reachable only with the fake credentials set here."""
    # Fake credentials and nothing from a profile: only the local server could accept them.
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
def storage_config(request) -> dict:
    """The app configuration of each backend: local storage, or S3 through boto3 against the local server."""
    if request.param == "local":
        return {"STORAGE_BACKEND": "local"}
    return {"STORAGE_BACKEND": "s3", "S3_BUCKET": BUCKET, "S3_REGION": REGION,
            "S3_ENDPOINT_URL": request.getfixturevalue("s3_endpoint")}


def stored_keys(app) -> list[str]:
    """Every key the app's storage holds, sorted."""
    if app.config["STORAGE_BACKEND"] == "local":
        root = Path(app.config["STORAGE_DIR"])
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    s3 = boto3.client("s3", endpoint_url=app.config["S3_ENDPOINT_URL"], region_name=REGION)
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def download(client, url) -> tuple[int, bytes, str]:
    """(status, bytes, content disposition): streamed by the app, or fetched from S3's signed link."""
    response = client.get(url)
    if response.status_code == 302:
        fetched = requests.get(response.headers["Location"], timeout=10)
        return fetched.status_code, fetched.content, fetched.headers.get("Content-Disposition", "")
    return response.status_code, response.get_data(), response.headers.get("Content-Disposition", "")
