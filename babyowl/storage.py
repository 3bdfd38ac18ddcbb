"""File storage with interchangeable backends.

`local` keeps files under STORAGE_DIR (development, tests, a single server),
`s3` keeps them in the S3_BUCKET bucket through boto3 (production). Callers
never pick: the app configuration does. Both backends take the same keys and
behave the same way, and the same tests run against both.
"""
from __future__ import annotations

import json
import os
import re
import unicodedata
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from flask import current_app

CHUNK_SIZE = 1024 * 1024
DEFAULT_CONTENT_TYPE = "application/octet-stream"

# Segments may not start with "." so "." and ".." never mean anything, and so the
# local backend's hidden sidecar and temporary files can never collide with a key.
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class StoredFile:
    key: str
    size: int
    content_type: str


def validate_key(key: str) -> str:
    """Return `key` unchanged, or raise ValueError if it is not a safe storage key."""
    if not isinstance(key, str) or not key:
        raise ValueError("A storage key must be a non-empty string.")
    if key.startswith("/") or "\\" in key:
        raise ValueError(f"Storage key {key!r} must be a relative path with forward slashes.")
    for segment in key.split("/"):
        if segment == "":
            raise ValueError(f"Storage key {key!r} has an empty segment.")
        if segment in {".", ".."}:
            raise ValueError(f"Storage key {key!r} has a relative segment {segment!r}.")
        if not _SEGMENT.fullmatch(segment):
            raise ValueError(f"Storage key {key!r} has a segment {segment!r} outside [A-Za-z0-9._-] "
                             "or starting with a dot.")
    return key


def new_key(prefix: str, extension: str = "") -> str:
    """A fresh key under `prefix`, e.g. new_key("submissions/12", ".pdf").

    The random part makes keys impossible to guess, so knowing one file's key
    says nothing about another's, and two uploads never overwrite each other.
    """
    if extension and not extension.startswith("."):
        extension = "." + extension
    return validate_key(f"{prefix}/{uuid.uuid4().hex}{extension}")


def attachment_disposition(filename: str) -> str:
    """A Content-Disposition value that makes browsers save the file as `filename`."""
    # Same approach as Werkzeug's send_file: an ASCII fallback for old clients,
    # RFC 5987 `filename*` so non-ASCII names survive in every current browser.
    simple = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    simple = "".join(c for c in simple if c.isprintable() and c not in '"\\') or "download"
    value = f'attachment; filename="{simple}"'
    if simple != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value


def _is_bytes(data) -> bool:
    return isinstance(data, (bytes, bytearray, memoryview))


class LocalStorage:
    def __init__(self, config: dict):
        self.root = Path(config["STORAGE_DIR"])

    def _path(self, key: str) -> Path:
        validate_key(key)
        path = self.root / key
        # The key check already stops "..", but a symlink inside STORAGE_DIR could
        # still lead elsewhere; never read or write anything that resolves outside.
        if not path.resolve().is_relative_to(self.root.resolve()):
            raise ValueError(f"Storage key {key!r} resolves outside the storage directory.")
        return path

    @staticmethod
    def _meta_path(path: Path) -> Path:
        return path.with_name(f".{path.name}.meta.json")

    @staticmethod
    def _write_atomically(path: Path, data: bytes | BinaryIO) -> int:
        # Readers and a crash mid-upload must only ever see the old file or the
        # whole new one, never half of it: write beside it, then rename over it.
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        size = 0
        try:
            with open(temporary, "xb") as out:
                if _is_bytes(data):
                    size = out.write(data)
                else:
                    # Stream: uploads can be MAX_CONTENT_LENGTH big.
                    while chunk := data.read(CHUNK_SIZE):
                        size += out.write(chunk)
                out.flush()
                # Without this a power cut after the rename can leave an empty file.
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return size

    def save(self, key: str, data: bytes | BinaryIO, content_type: str) -> StoredFile:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Metadata first: if the data write fails, an orphan sidecar is harmless,
        # while a new file with no sidecar would lose its content type.
        self._write_atomically(self._meta_path(path), json.dumps({"content_type": content_type}).encode())
        size = self._write_atomically(path, data)
        return StoredFile(key=key, size=size, content_type=content_type)

    def read(self, key: str) -> tuple[bytes, str]:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            # A directory is a prefix of other keys, not a stored file (as on S3).
            raise FileNotFoundError(f"No stored file with key {key!r}.") from None
        return data, self._content_type(path)

    def _content_type(self, path: Path) -> str:
        try:
            return json.loads(self._meta_path(path).read_text())["content_type"]
        except (OSError, ValueError, KeyError):
            return DEFAULT_CONTENT_TYPE

    def file_on_disk(self, key: str) -> tuple[Path, str]:
        """Path and content type, for streaming a large file with Range support."""
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"No stored file with key {key!r}.")
        return path, self._content_type(path)

    def delete(self, key: str) -> None:
        path = self._path(key)
        # Data first so exists() turns False before the sidecar goes. A directory
        # or a file where a directory was expected just means "no such key".
        for target in (path, self._meta_path(path)):
            try:
                target.unlink()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                pass

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def listed(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """(key, when it was last written) of every file whose key starts with `prefix/`."""
        top = self._path(prefix)
        if not top.is_dir():
            return
        for path in sorted(top.rglob("*")):
            # Dot files are this backend's sidecars and temporary files, never keys.
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(self.root).parts):
                yield (path.relative_to(self.root).as_posix(),
                       datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc))

    def download_url(self, key: str, filename: str | None = None, expires: int = 300) -> str | None:
        self._path(key)
        # No URL of its own: the app checks permissions and streams the file.
        return None


class S3Storage:
    def __init__(self, config: dict):
        import boto3
        from botocore.config import Config

        self.bucket = config["S3_BUCKET"]
        endpoint_url = config.get("S3_ENDPOINT_URL")
        # On AWS itself botocore otherwise presigns against the legacy global host
        # (bucket.s3.amazonaws.com), whose URLs fail with SignatureDoesNotMatch in
        # regions opened since 2019 such as ap-southeast-3 (boto/boto3#1982, #3015).
        # S3-compatible servers keep botocore's default, path-style addressing.
        s3_options = None if endpoint_url else {"addressing_style": "virtual"}
        # Credentials come from boto3's usual chain (environment, profile, instance
        # role) so they never sit in the app configuration. SigV4 because presigned
        # URLs in newer regions and on S3-compatible servers require it.
        self.client = boto3.client(
            "s3",
            region_name=config.get("S3_REGION"),
            endpoint_url=endpoint_url,
            config=Config(signature_version="s3v4", s3=s3_options),
        )

    @staticmethod
    def _is_missing(error) -> bool:
        return error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}

    def save(self, key: str, data: bytes | BinaryIO, content_type: str) -> StoredFile:
        validate_key(key)
        if _is_bytes(data):
            body = bytes(data)
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)
            size = len(body)
        else:
            # upload_fileobj streams and switches to multipart for big files; it
            # does not report the size, so ask S3 what it stored.
            self.client.upload_fileobj(data, self.bucket, key, ExtraArgs={"ContentType": content_type})
            size = self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
        return StoredFile(key=key, size=size, content_type=content_type)

    def read(self, key: str) -> tuple[bytes, str]:
        from botocore.exceptions import ClientError

        validate_key(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if self._is_missing(error):
                raise FileNotFoundError(f"No stored file with key {key!r}.") from None
            raise
        with response["Body"] as body:
            data = body.read()
        return data, response.get("ContentType") or DEFAULT_CONTENT_TYPE

    def delete(self, key: str) -> None:
        validate_key(key)
        # S3 answers a delete of a missing key with success already.
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        validate_key(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if self._is_missing(error):
                return False
            raise
        return True

    def listed(self, prefix: str) -> Iterator[tuple[str, datetime]]:
        """(key, when it was last written) of every object whose key starts with `prefix/`."""
        validate_key(prefix)
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix + "/")
        for page in pages:
            for item in page.get("Contents", []):
                yield item["Key"], item["LastModified"]

    def download_url(self, key: str, filename: str | None = None, expires: int = 300) -> str | None:
        validate_key(key)
        params = {"Bucket": self.bucket, "Key": key}
        if filename:
            # Keys are random, so without this the browser would save "3f9a….pdf".
            params["ResponseContentDisposition"] = attachment_disposition(filename)
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)


BACKENDS = {"local": LocalStorage, "s3": S3Storage}


def serve_file(key: str, *, download_name: str | None = None, cache_control: str = "private, max-age=86400"):
    """The response for a stored file the caller has already allowed.

    Local files are streamed with Range support (a video can be seeked without
    loading it whole); on S3 the browser gets a short-lived signed link.
    """
    from flask import abort, redirect, send_file

    storage = get_storage()
    try:
        url = storage.download_url(key, download_name)
        if url:
            return redirect(url, code=302)
        path, content_type = storage.file_on_disk(key)
    except (FileNotFoundError, ValueError):
        abort(404)
    response = send_file(path, mimetype=content_type, conditional=True, as_attachment=bool(download_name),
                         download_name=download_name)
    response.headers["Cache-Control"] = cache_control
    return response


def get_storage(config: dict | None = None):
    """The storage backend for `config`, or for the current app."""
    if config is not None:
        return BACKENDS[config["STORAGE_BACKEND"]](config)
    # One backend per app: building a boto3 client costs far more than a request should.
    storage = current_app.extensions.get("babyowl.storage")
    if storage is None:
        storage = current_app.extensions["babyowl.storage"] = get_storage(current_app.config)
    return storage
