"""Fixtures of the job tests: a real SMTP server on loopback."""
from __future__ import annotations

import pytest

from tests.jobs.support import SmtpServer


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.controller.start()
    yield server
    server.controller.stop()
