"""The grader's memory snapshot: used only when it matches this build, reseeded, and never needed for correctness."""
from __future__ import annotations

import json
import shutil

import pytest

from babyowl.grading import snapshot
from babyowl.grading.sandbox import TestInput, run_tests
from babyowl.services import grading


@pytest.fixture
def built(pyodide_backend, app, db):
    """The setup's snapshot (scripts/setup.sh builds it): its directory and file."""
    directory = grading.sandbox_settings().snapshot
    if directory is None:
        snapshot.build(grading.sandbox_settings().pyodide_dir, snapshot.DEFAULT_DIR)
    settings = grading.sandbox_settings()
    assert settings.snapshot is not None, "the grader's snapshot should be usable after the setup"
    return settings


def test_restored_processes_are_reseeded_and_run_like_a_cold_start(app, built):
    code = "import random, sys\nprint(random.random())\nprint(sys.version_info[:2])\n"
    runs = run_tests(built, code, [TestInput(), TestInput()], time_limit=10)
    assert [run.status for run in runs] == ["ok", "ok"]
    first, second = (run.stdout.splitlines() for run in runs)
    assert first[0] != second[0]  # the snapshot's random state is not everyone's
    assert first[1] == second[1] == "(3, 14)"


def test_a_snapshot_that_does_not_match_is_not_used_and_a_broken_one_falls_back_to_a_cold_start(app, built,
                                                                                                  tmp_path):
    directory = tmp_path / "snap"
    shutil.copytree(built.snapshot.parent, directory)
    key = snapshot.build_key(built.pyodide_dir)
    path, manifest = snapshot.paths_for(directory, key)
    assert snapshot.usable_snapshot(built.pyodide_dir, directory) == path
    # Tampered with (or half written): its hash no longer matches the manifest.
    path.write_bytes(b"\0" * 1024)
    assert snapshot.usable_snapshot(built.pyodide_dir, directory) is None
    # A file whose manifest matches but which cannot be restored: the runner starts cold and still grades.
    details = json.loads(manifest.read_text())
    details["sha256"] = snapshot.hashlib.sha256(path.read_bytes()).hexdigest()
    manifest.write_text(json.dumps(details))
    assert snapshot.usable_snapshot(built.pyodide_dir, directory) == path
    built.snapshot = path
    (run,) = run_tests(built, "print(6 * 7)", [TestInput()], time_limit=10)
    assert (run.status, run.stdout) == ("ok", "42\n")
    assert snapshot.usable_snapshot(built.pyodide_dir, tmp_path / "none") is None
