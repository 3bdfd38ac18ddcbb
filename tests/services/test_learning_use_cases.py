"""Authoring and learning as use cases: each commits once, refuses to run inside another, and owns its files."""
from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from babyowl.models import Exercise
from babyowl.services import assignments, courses, exercises, learning, structure
from babyowl.services.errors import NotAllowed
from babyowl.storage import get_storage, new_key
from babyowl.transactions import NestedUseCase, unit_of_work
from tests.factories import make_course, make_user

ANY = SimpleNamespace(type="material", content={})

# Every public function of these services that changes state, called with placeholder arguments: a use case
# refuses to start inside another before it reads any of them.
USE_CASES = {
    "courses.create_course": lambda: courses.create_course(ANY, title="x", description="x"),
    "courses.update_course": lambda: courses.update_course(ANY, ANY, title="x", description="x", slug="x", code=None,
                                                           category=None, level=None, language="indonesian"),
    "courses.change_status": lambda: courses.change_status(ANY, ANY, "published"),
    "courses.delete_course": lambda: courses.delete_course(ANY, ANY),
    "structure.add_section": lambda: structure.add_section(ANY, ANY, "x"),
    "structure.rename_section": lambda: structure.rename_section(ANY, ANY, "x"),
    "structure.move_section": lambda: structure.move_section(ANY, ANY, "up"),
    "structure.delete_section": lambda: structure.delete_section(ANY, ANY),
    "structure.add_lesson": lambda: structure.add_lesson(ANY, ANY, "x"),
    "structure.update_lesson": lambda: structure.update_lesson(ANY, ANY, "x"),
    "structure.move_lesson": lambda: structure.move_lesson(ANY, ANY, "up"),
    "structure.delete_lesson": lambda: structure.delete_lesson(ANY, ANY),
    "structure.move_exercise": lambda: structure.move_exercise(ANY, ANY, "up"),
    "exercises.create_exercise": lambda: exercises.create_exercise(ANY, ANY, type_name="material", title="x",
                                                                   content={}, estimated_duration=None),
    "exercises.update_exercise": lambda: exercises.update_exercise(ANY, ANY, title="x", content={},
                                                                   estimated_duration=None),
    "exercises.delete_exercise": lambda: exercises.delete_exercise(ANY, ANY),
    "learning.mark_done": lambda: learning.mark_done(ANY, ANY),
    "learning.record_progress": lambda: learning.record_progress(ANY, ANY, seconds=1),
    "learning.submit_quiz": lambda: learning.submit_quiz(ANY, ANY, {}),
    "assignments.submit": lambda: assignments.submit(ANY, ANY, kind="text", text="x"),
    "assignments.grade": lambda: assignments.grade(ANY, ANY, status="graded", grade_value=1, feedback=None),
}


@pytest.mark.parametrize("call", USE_CASES.values(), ids=USE_CASES.keys())
def test_every_change_is_one_use_case_that_cannot_run_inside_another(db, call):
    with pytest.raises(NestedUseCase), unit_of_work("an outer use case"):
        call()


def test_a_refused_new_exercise_deletes_the_video_stored_for_it(db):
    owner, stranger = make_user("instructor"), make_user("instructor")
    lesson = make_course(author=owner, status="draft", lessons=1).sections[0].lessons[0]
    key = new_key("videos", ".mp4")
    get_storage().save(key, io.BytesIO(b"\x00\x00\x00\x18ftypmp42"), "video/mp4")
    content = {"source": "file", "fileKey": key, "duration": 60, "allowManualComplete": False}
    before = db.session.scalar(select(func.count()).select_from(Exercise))
    with pytest.raises(NotAllowed):
        exercises.create_exercise(stranger, lesson, type_name="video", title="Video", content=content,
                                  estimated_duration=None)
    assert not get_storage().exists(key)
    assert db.session.scalar(select(func.count()).select_from(Exercise)) == before
