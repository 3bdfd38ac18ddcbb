"""Copy a backup folder to and from S3 for scripts/backup.sh and scripts/restore.sh.

    backup_s3.py upload LOCAL_FOLDER s3://bucket/prefix/babyowl-...
    backup_s3.py download s3://bucket/prefix[/babyowl-...] LOCAL_PARENT   (prints the local folder)

boto3 is already a dependency of the app, so this runs wherever the app does,
with the usual boto3 credentials (environment, profile, instance role);
S3_ENDPOINT_URL and S3_REGION are read as the app reads them (MinIO, a
non-AWS provider, or the tests' moto server).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import boto3

MANIFEST = "MANIFEST"


def _client():
    return boto3.client("s3", endpoint_url=os.environ.get("S3_ENDPOINT_URL") or None,
                        region_name=os.environ.get("S3_REGION") or None)


def _split(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise SystemExit(f"not an s3:// address: {url}")
    bucket, _, prefix = url[len("s3://"):].partition("/")
    return bucket, prefix.strip("/")


def upload(folder: str, url: str) -> None:
    bucket, prefix = _split(url)
    client = _client()
    files = sorted(p for p in Path(folder).iterdir() if p.is_file())
    # The manifest last: a backup without it in the bucket is one that did not finish.
    for path in sorted(files, key=lambda p: p.name == MANIFEST):
        client.upload_file(str(path), bucket, f"{prefix}/{path.name}")


def _latest(client, bucket: str, prefix: str) -> str:
    """The newest complete backup under `prefix`, or `prefix` itself when it is one."""
    base = f"{prefix}/" if prefix else ""
    names = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
        names += [item["Key"] for item in page.get("Contents", [])]
    if prefix and f"{base}{MANIFEST}" in names:
        return prefix
    complete = sorted(key.rsplit("/", 1)[0] for key in names if key.endswith(f"/{MANIFEST}")
                      and key.rsplit("/", 2)[-2].startswith("babyowl-"))
    if not complete:
        raise SystemExit(f"no complete backup (a folder with a {MANIFEST}) under s3://{bucket}/{prefix}")
    return complete[-1]


def download(url: str, parent: str) -> None:
    bucket, prefix = _split(url)
    client = _client()
    backup = _latest(client, bucket, prefix)
    target = Path(parent) / backup.rsplit("/", 1)[-1]
    target.mkdir(parents=True, exist_ok=True)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{backup}/"):
        for item in page.get("Contents", []):
            name = item["Key"][len(backup) + 1:]
            if name and "/" not in name:
                client.download_file(bucket, item["Key"], str(target / name))
    print(target)


def main(argv: list[str]) -> None:
    if len(argv) == 3 and argv[0] == "upload":
        upload(argv[1], argv[2])
    elif len(argv) == 3 and argv[0] == "download":
        download(argv[1], argv[2])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
