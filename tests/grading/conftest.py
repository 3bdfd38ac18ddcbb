"""Fixtures of the grader tests: a student with a lesson of theirs open."""
from __future__ import annotations

import socket
import threading
from types import SimpleNamespace

import pytest

from tests.factories import make_open_lesson, make_user


@pytest.fixture
def student(db):
    return make_user("student")


@pytest.fixture
def lesson(db, student):
    return make_open_lesson(student)


@pytest.fixture(params=["pyodide", "cpython", "auto"])
def backend(request, app):
    """A behaviour test runs against every grader backend (`app` undoes the config change)."""
    app.config["GRADER_BACKEND"] = request.param
    return request.param


@pytest.fixture
def pyodide_backend(app):
    """A test of the Pyodide runner itself (Node, `js`, its snapshot): the authority behind `auto`, pinned."""
    app.config["GRADER_BACKEND"] = "pyodide"
    return "pyodide"


@pytest.fixture
def listener():
    """A socket listening on loopback that records every connection: a sandboxed program must make none."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.2)
    found = SimpleNamespace(port=server.getsockname()[1], connections=[])

    def accept():
        while server.fileno() != -1:
            try:
                found.connections.append(server.accept())
            except OSError:
                continue

    watcher = threading.Thread(target=accept, daemon=True)
    watcher.start()
    yield found
    server.close()
    watcher.join()
