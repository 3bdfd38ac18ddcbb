"""The lesson player in headless Chromium: reading to the end completes a material (htmx `intersect once`),
and video-progress.js reports the seconds a video played."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from babyowl.models import ExerciseProgress
from babyowl.storage import get_storage
from tests.browser.conftest import PHONE, sign_in
from tests.factories import PASSWORD
from tests.learning_data import MATERIAL, exercise, make_setup

LONG = {"format": "markdown", "source": "\n\n".join(f"Paragraf {n}: variabel menyimpan nilai." for n in range(80))}


@pytest.fixture
def setup(db):
    return make_setup(unlocked=1, lessons=1)


def progress(db, row):
    db.session.expire_all()
    return db.session.scalar(select(ExerciseProgress).where(ExerciseProgress.exercise_id == row.id))


def wait_until(check, seconds: float = 10):
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert check()


def test_scrolling_to_the_end_of_a_material_completes_it(db, live_server, open_page, setup):
    short = exercise(setup.lessons[0], "material", MATERIAL, "Bacaan pendek")
    long = exercise(setup.lessons[0], "material", LONG, "Bacaan panjang")
    page = open_page(viewport=PHONE)
    sign_in(page, live_server, setup.student.email, PASSWORD)
    page.goto(f"{live_server}{setup.lesson_url(setup.lessons[0])}")
    # The short text ends on the first screen: done at once. The long one is not, until read to the end.
    page.locator(f"#status-{short.id} .status-published").wait_for()
    assert "1 of 2 exercises done" in page.inner_text("#lesson-progress")
    assert progress(db, long) is None
    page.locator(f"#exercise-{long.id} .material-body p").last.scroll_into_view_if_needed()
    page.locator(f"#status-{long.id} .status-published").wait_for()
    assert progress(db, long).completed and "2 of 2 exercises done" in page.inner_text("#lesson-progress")


def test_the_video_script_reports_seconds_played(db, live_server, open_page, setup):
    key = f"videos/{setup.lessons[0].id.hex}.mp4"
    get_storage().save(key, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "video/mp4")
    video = exercise(setup.lessons[0], "video", {"source": "file", "fileKey": key, "duration": 20})
    page = open_page()
    sign_in(page, live_server, setup.student.email, PASSWORD)
    page.goto(f"{live_server}{setup.lesson_url(setup.lessons[0])}")
    # The test file cannot really play: stand in for the element's clock and fire its events.
    page.evaluate("""() => {
        const v = document.querySelector('[data-video-progress] video');
        let t = 0;
        Object.defineProperty(v, 'currentTime', {get: () => t, configurable: true});
        Object.defineProperty(v, 'paused', {get: () => false, configurable: true});
        for (let i = 0; i <= 19; i++) { t = i; v.dispatchEvent(new Event('timeupdate')); }
        v.dispatchEvent(new Event('pause'));
    }""")
    wait_until(lambda: progress(db, video) is not None and progress(db, video).watched_seconds == 19)
    assert progress(db, video).completed  # 19 of 20 seconds is more than 90 %
    page.locator(f"#status-{video.id} .status-published").wait_for()
