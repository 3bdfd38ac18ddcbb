"""Static files: never the session, the pinned version in vendor URLs, a year of caching, compressed bytes."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from babyowl.extensions import db as _db
from babyowl.models import Exercise
from tests.factories import make_open_lesson

IMMUTABLE = "max-age=31536000, public, immutable"


def _version(app, package: str) -> str:
    return (Path(app.static_folder) / "vendor" / package / "VERSION").read_text().strip()


@pytest.mark.parametrize("url", ["/static/css/app.css", "/static/coding/page.js"])
def test_a_static_request_never_touches_the_session(client, login_as, url):
    # A permanent session refreshed on every request sent a new Set-Cookie with every file, and
    # `Vary: Cookie` made browsers revalidate each one.
    login_as("student")
    response = client.get(url)
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")


def test_vendor_urls_carry_the_pinned_version_and_are_cached_for_a_year(client, app):
    version = _version(app, "pyodide")
    response = client.get(f"/static/vendor/pyodide@{version}/pyodide.mjs")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Another version's URL is not this file.
    assert client.get("/static/vendor/pyodide@0.0.1/pyodide.mjs").status_code == 404


def test_our_own_files_are_revalidated_not_cached_blindly(client):
    # They change with every deploy and their URL does not.
    response = client.get("/static/coding/page.js")
    assert response.headers["Cache-Control"] == "max-age=0, public"
    again = client.get("/static/coding/page.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize(("accepts", "encoding"), [("gzip, deflate, br", "br"), ("gzip", "gzip"), ("", None)])
def test_pyodide_files_are_sent_compressed_when_the_browser_accepts_it(client, app, accepts, encoding):
    version = _version(app, "pyodide")
    for name in ("pyodide.asm.wasm", "pyodide.asm.mjs", "pyodide.mjs"):
        response = client.get(f"/static/vendor/pyodide@{version}/{name}", headers={"Accept-Encoding": accepts})
        assert response.status_code == 200
        assert response.headers.get("Content-Encoding") == encoding, name
        assert "Accept-Encoding" in response.headers["Vary"]
        assert response.headers["Cache-Control"] == IMMUTABLE
    raw = (Path(app.static_folder) / "vendor" / "pyodide" / "pyodide.asm.wasm").stat().st_size
    compressed = client.get(f"/static/vendor/pyodide@{version}/pyodide.asm.wasm", headers={"Accept-Encoding": "br"})
    assert int(compressed.headers["Content-Length"]) < raw / 2


def test_the_python_snapshot_is_only_ever_sent_compressed(client, app):
    # 30 MB raw; the runner's worker unpacks it (DecompressionStream), so the browser's cache holds ~6 MB.
    version = _version(app, "pyodide")
    folder = Path(app.static_folder) / "vendor" / "pyodide"
    assert not (folder / "browser-snapshot.bin").exists()
    response = client.get(f"/static/vendor/pyodide@{version}/browser-snapshot.bin.gz", headers={"Accept-Encoding": ""})
    assert response.status_code == 200
    assert response.data[:2] == b"\x1f\x8b"  # gzip
    assert len(response.data) < 10 * 2**20
    assert response.headers["Cache-Control"] == IMMUTABLE


def test_the_coding_page_asks_for_versioned_files_and_the_snapshot(client, login_as, app):
    student = login_as("student")
    exercise = Exercise(lesson=make_open_lesson(student), title="Halo", type="coding", order_index=1, content={
        "mode": "challenge", "language": "python", "starterCode": "", "timeLimit": 3, "maxPoints": 10,
        "testCases": [], "requiredPackages": [], "hints": [], "outputType": "console",
        "completionCriteria": "all_tests_pass"})
    _db.session.add(exercise)
    _db.session.commit()
    html = client.get(f"/exercises/{exercise.id}/code").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/json" id="coding-data">(.*?)</script>', html, re.S)[1])
    pyodide = f"/static/vendor/pyodide@{_version(app, 'pyodide')}/"
    files = data["runnerFiles"]
    assert files["wasm"] == pyodide + "pyodide.asm.wasm" and files["snapshot"] == pyodide + "browser-snapshot.bin.gz"
    assert data["monaco"].startswith(f"/static/vendor/monaco@{_version(app, 'monaco')}/")
    for url in files.values():
        assert client.get(url).status_code == 200, url
