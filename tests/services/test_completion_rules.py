"""Each exercise type's completion rule, and quiz scoring, as plain functions (no request, no database)."""
from __future__ import annotations

import pytest

from babyowl.exercise_types import get_type
from babyowl.exercise_types.assignment import AssignmentType
from tests.learning_data import MATERIAL, QUIZ, VIDEO


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield


def test_material_completes_at_the_end_or_by_marking_it_done(ctx):
    material = get_type("material")
    content = material.validate(MATERIAL)
    assert material.manual_completion_allowed(content)
    assert not material.completed_by_progress(content, watched_seconds=0, scroll_depth=99)
    assert material.completed_by_progress(content, watched_seconds=0, scroll_depth=100)


@pytest.mark.parametrize("watched, done", [(0, False), (179, False), (180, True), (200, True)])
def test_video_completes_at_ninety_percent_watched(ctx, watched, done):
    video = get_type("video")
    content = video.validate(VIDEO)  # 200 seconds long
    assert video.completed_by_progress(content, watched_seconds=watched, scroll_depth=0) is done


def test_video_may_be_marked_done_only_when_the_instructor_allows_it(ctx):
    video = get_type("video")
    assert not video.manual_completion_allowed(video.validate(VIDEO))
    assert video.manual_completion_allowed(video.validate({**VIDEO, "allowManualComplete": True}))


def test_quiz_assignment_and_coding_are_never_completed_by_a_button(ctx):
    for kind in ("quiz", "assignment", "coding"):
        assert not get_type(kind).manual_completion_allowed({})


def test_assignment_is_done_when_handed_in_and_open_again_when_returned():
    assert AssignmentType.completed_by_submission("pending")
    assert AssignmentType.completed_by_submission("graded")
    assert not AssignmentType.completed_by_submission("returned")
    assert not AssignmentType.completed_by_submission(None)


def test_quiz_all_right_scores_full_marks_and_passes(ctx):
    quiz = get_type("quiz")
    content = quiz.validate(QUIZ)
    result = quiz.score(content, {"q1": ["a"], "q2": ["c", "a"], "q3": ["false"], "q4": ["  PRINT "]})
    assert (result.score, result.max_score, result.passed, result.answered) == (5, 5, True, 4)


def test_quiz_passes_at_the_passing_score_and_not_below(ctx):
    quiz = get_type("quiz")
    content = quiz.validate(QUIZ)  # 60 % of 5 points = 3
    three = quiz.score(content, {"q1": ["a"], "q3": ["false"]})
    two = quiz.score(content, {"q1": ["a"]})
    assert (three.score, three.passed) == (3, True)
    assert (two.score, two.passed) == (2, False)


def test_quiz_scoring_ignores_tampering(ctx):
    quiz = get_type("quiz")
    content = quiz.validate(QUIZ)
    result = quiz.score(content, {
        "q1": ["a", "b"],                 # two answers to a single-choice question
        "q2": ["a", "c", "zzz"],           # an option that does not exist is dropped
        "q3": ["true", "false"],           # both
        "q9": ["a"], "score": ["100"],     # a question that does not exist, a made-up field
    })
    assert result.answers["q1"] == {"given": ["a", "b"], "correct": False, "earned": 0}
    assert result.answers["q2"]["given"] == ["a", "c"] and result.answers["q2"]["correct"] is True
    assert result.answers["q3"]["correct"] is False
    assert set(result.answers) == {"q1", "q2", "q3", "q4"}
    assert (result.score, result.max_score) == (1, 5)


def test_questions_for_students_carry_no_answers_and_shuffle_stably(ctx):
    quiz = get_type("quiz")
    content = quiz.validate({**QUIZ, "shuffle": True})
    shown = quiz.questions_for_student(content, seed="andi:quiz:1")
    assert all(set(q) == {"id", "type", "text", "points", "options"} for q in shown)
    assert shown == quiz.questions_for_student(content, seed="andi:quiz:1")
    assert sorted(q["id"] for q in shown) == ["q1", "q2", "q3", "q4"]


def test_review_names_the_given_answers_but_not_the_right_ones(ctx):
    quiz = get_type("quiz")
    content = quiz.validate(QUIZ)
    result = quiz.score(content, {"q1": ["b"]})
    review = quiz.review(content, result.answers)
    assert review[0]["given"] == ["Twenty-three"] and review[0]["correct"] is False
    assert review[0]["explanation"] == "Numbers are added, not glued."
    assert all("Five" not in row["given"] for row in review)
