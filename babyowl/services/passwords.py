"""Passwords: the spec's policy, and bcrypt hashing with cost 12."""
from __future__ import annotations

import bcrypt
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

BCRYPT_ROUNDS = 12
MIN_LENGTH = 8

# One message per rule, so the person sees every rule their password missed.
POLICY = (
    (lambda p: len(p) >= MIN_LENGTH, _l("Use at least 8 characters.")),
    (lambda p: any(c.isupper() for c in p), _l("Add an uppercase letter.")),
    (lambda p: any(c.islower() for c in p), _l("Add a lowercase letter.")),
    (lambda p: any(c.isdigit() for c in p), _l("Add a digit.")),
    (lambda p: any(not c.isalnum() and not c.isspace() for c in p), _l("Add a special character such as ! ? # or @.")),
)


def password_problems(password: str) -> list[str]:
    return [str(message) for rule, message in POLICY if not rule(password)]


def _rounds() -> int:
    # Tests lower the cost through config; production never sets it.
    if has_app_context():
        return int(current_app.config.get("BCRYPT_ROUNDS", BCRYPT_ROUNDS))
    return BCRYPT_ROUNDS


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(_rounds())).decode("ascii")


_dummy_hashes: dict[int, str] = {}


def _dummy_hash() -> str:
    # A hash of nothing anyone can type, at today's cost: checking against it
    # takes as long as checking a real account's password.
    rounds = _rounds()
    if rounds not in _dummy_hashes:
        _dummy_hashes[rounds] = bcrypt.hashpw(b"\x00 no account \x00", bcrypt.gensalt(rounds)).decode("ascii")
    return _dummy_hashes[rounds]


def check_password(password: str, password_hash: str | None) -> bool:
    """Whether `password` matches; as slow when there is no hash (unknown, erased or invited account)."""
    if not password_hash:
        # An early "no" would tell an attacker which addresses have a usable account.
        bcrypt.checkpw(password.encode("utf-8"), _dummy_hash().encode("ascii"))
        return False
    try:
        return bcrypt.checkpw(password.encode("utf-8"), password_hash.encode("ascii"))
    except ValueError:
        return False
