"""Contract test: schemathesis generates requests for every operation of /api/v1/openapi.json and sends them
in-process (WSGI), authenticated as a role the operation allows. No answer may be a 500, carry an undocumented
status, or break its documented schema. A small, fixed number of examples per operation keeps it fast.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import positive_data_acceptance

from tests.api.test_access import ANONYMOUS, API_ACCESS
from tests.factories import make_class, make_course, make_enrollment, make_user

EXAMPLES_PER_OPERATION = 6


@pytest.fixture
def people(db):
    """A person of each role, the instructor teaching a class the student is in (so some ids exist)."""
    users = {role: make_user(role) for role in ("student", "instructor", "staff", "super_admin")}
    school_class = make_class(instructor=users["instructor"])
    make_enrollment(school_class, users["student"])
    make_course(status="published")
    return users


def _role_for(name: str) -> str | None:
    allowed = [role for role in API_ACCESS[f"api.{name}"].allowed if role != ANONYMOUS]
    # Prefer the narrowest role that is allowed: the instructor for teaching, staff for staff operations.
    for role in ("instructor", "staff", "student", "super_admin"):
        if role in allowed:
            return role
    return None


OPERATIONS = sorted(name.split(".", 1)[1] for name in API_ACCESS if name not in ("api.openapi", "api.docs"))


@pytest.mark.parametrize("name", OPERATIONS)
def test_every_operation_keeps_its_contract(app, people, name, monkeypatch):
    from hypothesis import given

    import babyowl.jobs.grading

    monkeypatch.setattr(babyowl.jobs.grading, "queue_grading", lambda submission_id: None)  # no sandbox run here
    from babyowl.blueprints.api.core import issue_tokens

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema.find_operation_by_id(name)
    role = _role_for(name)

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.filter_too_much, HealthCheck.data_too_large])
    def call(case):
        # Compression is the transport's (flask-compress; tests/blueprints/test_compressed_pages.py), and
        # schemathesis's WSGI client reads bodies as sent: ask for them uncompressed.
        headers = {"Accept-Encoding": "identity"}
        if role is not None:
            with app.test_request_context():  # a fresh token per call: a generated logout must not end the next
                token = issue_tokens(people[role])[API_ACCESS[f"api.{name}"].token]
            headers["Authorization"] = f"Bearer {token}"
        # Not "positive data acceptance": a schema-valid body may still be refused by a rule of the school (a weak
        # password, a meeting outside the package, an unknown link) with its documented 400/409/422.
        case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

    call()
