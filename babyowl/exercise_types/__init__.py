"""The five exercise types, as small strategy classes in one registry.

    exercise_type = get_type(exercise.type)
    content = exercise_type.validate(raw)             # stored, seeded or imported content
    content = exercise_type.content_from_form(form)   # after form.validate_on_submit()

Each type validates and normalises its own content, builds it from its own
form and names the templates of its form fields and its student preview.
"""
from __future__ import annotations

from babyowl.exercise_types.assignment import AssignmentForm, AssignmentType
from babyowl.exercise_types.base import ExerciseForm, ExerciseType, InvalidContent
from babyowl.exercise_types.coding import CodingForm, CodingType
from babyowl.exercise_types.material import MaterialForm, MaterialType
from babyowl.exercise_types.quiz import QuizForm, QuizType
from babyowl.exercise_types.video import VideoForm, VideoType

REGISTRY: dict[str, ExerciseType] = {
    exercise_type.name: exercise_type
    for exercise_type in (VideoType(), MaterialType(), QuizType(), AssignmentType(), CodingType())
}


def get_type(name: str) -> ExerciseType:
    """The exercise type called `name`; KeyError for an unknown name."""
    return REGISTRY[name]


__all__ = [
    "REGISTRY", "get_type", "ExerciseType", "ExerciseForm", "InvalidContent",
    "VideoForm", "MaterialForm", "QuizForm", "AssignmentForm", "CodingForm",
]
