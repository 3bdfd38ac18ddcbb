"""Who may open what: one decorator for roles, plus checks services make on ownership.

Not signed in: redirect to sign-in (HX-Redirect for htmx). Signed in with the
wrong role: 403. A thing the user may not know exists: the service answers 404.
"""
from __future__ import annotations

import functools

from flask import abort
from flask_login import current_user, login_required

# The role groups of the spec, named once; views, services and templates ask these.
STAFF_ROLES = ("staff", "super_admin")                      # enrollment, classes, payments, users, reports
TEACHING_ROLES = ("instructor", "staff", "super_admin")     # see classes and their attendance
AUTHORS = ("instructor", "super_admin")                     # write courses
GRADERS = ("instructor", "super_admin")                     # grade assignments
UNLOCKERS = ("instructor", "super_admin")                   # unlock a class's next lesson
ALL_ROLES = ("student", "instructor", "staff", "super_admin")


ERASERS = ("super_admin",)                                 # erase a person's account for good


def is_staff(user) -> bool:
    return getattr(user, "role", None) in STAFF_ROLES


def can_erase_accounts(user) -> bool:
    return getattr(user, "role", None) in ERASERS


def roles_required(*roles: str):
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        guarded = login_required(wrapped)
        guarded.allowed_roles = roles  # read by the route-access test
        return guarded

    return decorator


def creatable_roles(actor) -> tuple[str, ...]:
    """Spec: super_admin creates any role; staff create students only."""
    if actor.role == "super_admin":
        return ALL_ROLES
    if actor.role == "staff":
        return ("student",)
    return ()


def can_manage_user(actor, target) -> bool:
    """Staff manage students; super_admin manages everyone."""
    return target.role in creatable_roles(actor)
