"""Pages compressed when the app runs alone (flask-compress: WhiteNoise compresses static files only), never a
streamed export; every compressible answer says `Vary: Accept-Encoding` (issue 22)."""
from __future__ import annotations

import gzip

import brotli

from tests.report_school import build_school
from tests.helpers import signed_in_client


def test_a_page_is_sent_compressed_to_a_browser_that_accepts_it(client, login_as):
    login_as("staff")
    plain = client.get("/dashboard")
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    html = plain.get_data()
    assert "Accept-Encoding" in plain.headers["Vary"] and "HX-Request" in plain.headers["Vary"]
    squeezed = client.get("/dashboard", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert squeezed.headers["Content-Encoding"] == "br"
    assert len(squeezed.get_data()) < len(html) / 2
    assert b"</html>" in brotli.decompress(squeezed.get_data())
    older = client.get("/dashboard", headers={"Accept-Encoding": "gzip"})
    assert older.headers["Content-Encoding"] == "gzip" and b"</html>" in gzip.decompress(older.get_data())


def test_a_streamed_export_is_never_compressed(app, db):
    school = build_school()
    staff = signed_in_client(app, school.staff)
    response = staff.get("/reports/attendance.csv", headers={"Accept-Encoding": "gzip, br"})
    assert response.status_code == 200 and "Content-Encoding" not in response.headers
    assert response.get_data().startswith(b"\xef\xbb\xbf")


def test_it_can_be_left_to_the_proxy(make_app, db):
    from tests.factories import make_user

    alone = make_app(COMPRESS_REGISTER=False)
    client = signed_in_client(alone, make_user("staff"))
    response = client.get("/dashboard", headers={"Accept-Encoding": "gzip, br"})
    assert response.status_code == 200 and "Content-Encoding" not in response.headers


def test_the_api_sends_its_json_compressed_to_a_client_that_asks(client, db):
    from tests.factories import make_course

    for n in range(12):  # a list long enough to be worth compressing
        make_course(title=f"Python untuk Pemula {n}", status="published")
    squeezed = client.get("/api/v1/catalog/courses?limit=20", headers={"Accept-Encoding": "gzip"})
    assert squeezed.status_code == 200 and squeezed.headers["Content-Encoding"] == "gzip"
    assert b'"success": true' in gzip.decompress(squeezed.get_data()).replace(b'":true', b'": true')


def test_an_answer_under_a_kilobyte_is_sent_as_it_is(make_app):
    app = make_app()
    app.add_url_rule("/fragment-for-the-test", "fragment_for_the_test", lambda: "<p>" + "a" * 800 + "</p>")
    app.add_url_rule("/page-for-the-test", "page_for_the_test", lambda: "<p>" + "a" * 1100 + "</p>")
    client = app.test_client()
    small = client.get("/fragment-for-the-test", headers={"Accept-Encoding": "gzip, br"})
    assert len(small.get_data()) == 807 and "Content-Encoding" not in small.headers
    assert client.get("/page-for-the-test", headers={"Accept-Encoding": "gzip, br"}).headers["Content-Encoding"] == "br"
