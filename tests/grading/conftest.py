"""Fixtures of the grader tests: a student with a lesson of theirs open."""
from __future__ import annotations

import pytest

from tests.factories import make_open_lesson, make_user


@pytest.fixture
def student(db):
    return make_user("student")


@pytest.fixture
def lesson(db, student):
    return make_open_lesson(student)


@pytest.fixture(params=["pyodide", "cpython"])
def backend(request, app):
    """A behaviour test runs against both grader backends (`app` undoes the config change)."""
    app.config["GRADER_BACKEND"] = request.param
    return request.param
