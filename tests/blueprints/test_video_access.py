"""Uploaded lesson videos are served only to people who may see a lesson that plays them."""
from __future__ import annotations

import pytest

from babyowl.storage import get_storage
from tests.factories import make_user
from tests.learning_data import exercise, make_setup, sign_in

MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64


@pytest.fixture
def setup(db):
    return make_setup(unlocked=1, lessons=2)


def uploaded_video(setup, lesson):
    key = f"videos/{lesson.id.hex}.mp4"
    get_storage().save(key, MP4, "video/mp4")
    exercise(lesson, "video", {"source": "file", "fileKey": key, "duration": 60})
    return f"/authoring/videos/{key}"


def test_the_students_of_a_class_that_unlocked_the_lesson_may_watch(client, db, setup):
    url = uploaded_video(setup, setup.lessons[0])
    for allowed in (setup.student, setup.teacher, make_user("staff"), make_user("super_admin")):
        sign_in(client, allowed)
        response = client.get(url)
        assert response.status_code == 200 and response.get_data() == MP4, allowed.role


def test_everyone_else_finds_nothing(client, db, setup):
    url = uploaded_video(setup, setup.lessons[0])
    for outsider in (make_user("student"), make_user("instructor")):
        sign_in(client, outsider)
        assert client.get(url).status_code == 404, outsider.role


def test_a_locked_lessons_video_is_not_served_to_the_student(client, db, setup):
    url = uploaded_video(setup, setup.lessons[1])
    sign_in(client, setup.student)
    assert client.get(url).status_code == 404
    sign_in(client, setup.teacher)
    assert client.get(url).status_code == 200


def test_a_stored_file_no_exercise_plays_is_served_to_nobody(client, db, setup):
    get_storage().save("videos/0123456789abcdef0123456789abcdef.mp4", MP4, "video/mp4")
    sign_in(client, make_user("super_admin"))
    assert client.get("/authoring/videos/videos/0123456789abcdef0123456789abcdef.mp4").status_code == 404
