"""One owner per transaction: it commits once, a refused one changes nothing, side effects wait for the commit."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from babyowl.models import User
from babyowl.services.errors import DomainError
from babyowl.transactions import NestedUseCase, NoUseCase, after_commit, end_read, use_case
from tests.factories import make_user


def users_named(db, name: str) -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(User.full_name == name))


def test_a_use_case_commits_once_and_runs_its_side_effects_after(db):
    calls: list[str] = []

    @use_case
    def rename(user_id, name):
        db.session.get(User, user_id).full_name = name
        after_commit(lambda: calls.append(f"committed: {users_named(db, name)}"))
        calls.append("in the transaction")

    user = make_user()
    rename(user.id, "Rina Wati")
    db.session.expire_all()
    assert calls == ["in the transaction", "committed: 1"]
    assert users_named(db, "Rina Wati") == 1


def test_a_refused_use_case_changes_nothing_and_sends_nothing(db):
    sent: list[str] = []

    @use_case
    def rename_then_refuse(user_id):
        db.session.get(User, user_id).full_name = "Never Saved"
        db.session.flush()
        after_commit(sent.append, "email")
        raise DomainError("The class is full.")

    user = make_user()
    with pytest.raises(DomainError):
        rename_then_refuse(user.id)
    assert sent == []
    assert users_named(db, "Never Saved") == 0


def test_a_use_case_inside_another_fails_loudly(db):
    @use_case
    def inner():
        return None

    @use_case
    def outer():
        inner()

    with pytest.raises(NestedUseCase):
        outer()
    # The outer transaction was rolled back and the marker cleared: the next use case runs normally.
    assert inner() is None


def test_after_commit_outside_a_use_case_is_a_programming_error(db):
    with pytest.raises(NoUseCase):
        after_commit(print, "no transaction to wait for")


def test_a_failing_side_effect_is_logged_and_does_not_undo_the_commit(db, caplog):
    @use_case
    def rename(user_id):
        db.session.get(User, user_id).full_name = "Kept"
        after_commit(_redis_is_down)

    user = make_user()
    rename(user.id)
    assert users_named(db, "Kept") == 1
    assert "its sweep will pick the work up" in caplog.text


def _redis_is_down():
    raise ConnectionError("Redis is down")


def test_a_use_case_may_keep_what_it_loaded_after_the_commit(db, count_queries):
    @use_case(keep_loaded=True)
    def rename_kept(user_id, name):
        user = db.session.get(User, user_id)
        user.full_name = name
        return user

    @use_case
    def rename_expired(user_id, name):
        user = db.session.get(User, user_id)
        user.full_name = name
        return user

    user_id = make_user().id
    db.session.expire_all()
    kept = rename_kept(user_id, "Rina Wati")
    with count_queries() as reads:
        assert kept.full_name == "Rina Wati"
    assert reads == [] and users_named(db, "Rina Wati") == 1
    expired = rename_expired(user_id, "Rina Sari")
    with count_queries() as reads:
        assert expired.full_name == "Rina Sari"
    assert len(reads) == 1  # the default: every row is read again after the commit
    assert db.session().expire_on_commit is True


def test_a_read_ends_its_transaction_before_slow_work_and_a_use_case_cannot(db):
    assert db.session.scalar(select(func.count(User.id))) == 0
    assert db.session().in_transaction()
    end_read()
    assert not db.session().in_transaction()

    @use_case
    def inside():
        end_read()

    with pytest.raises(NestedUseCase):
        inside()
