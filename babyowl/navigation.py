"""Navigation by role, defined once.

An entry appears only when its endpoint exists, so an area's link shows up in
the layout as soon as its blueprint is registered.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, has_request_context, request, url_for
from flask_babel import get_locale, lazy_gettext as _l
from flask_login import current_user

from babyowl.authz import ALL_ROLES, AUTHORS, GRADERS, STAFF_ROLES, TEACHING_ROLES

EVERYONE = ALL_ROLES
ROLE_NAMES = {
    "student": _l("Student"),
    "instructor": _l("Instructor"),
    "staff": _l("Staff"),
    "super_admin": _l("Administrator"),
}
STATUS_NAMES = {"active": _l("active"), "inactive": _l("inactive"), "suspended": _l("suspended")}
COURSE_STATUS_NAMES = {"draft": _l("draft"), "published": _l("published"), "archived": _l("archived")}
LEVEL_NAMES = {"beginner": _l("Beginner"), "intermediate": _l("Intermediate"), "advanced": _l("Advanced")}
LANGUAGE_LABELS = {"indonesian": _l("Indonesian"), "english": _l("English")}
CLASS_STATUS_NAMES = {"draft": _l("draft"), "enrollment_open": _l("enrollment open"), "active": _l("active"),
                      "completed": _l("completed"), "cancelled": _l("cancelled")}
CLASS_STATUS_ACTIONS = {"enrollment_open": _l("Open enrollment"), "active": _l("Start the class"),
                        "completed": _l("Mark completed"), "cancelled": _l("Cancel class")}
PAYMENT_STATUS_NAMES = {"pending": _l("waiting for payment"), "verified": _l("paid"), "refunded": _l("refunded"),
                        "partially_paid": _l("partly paid"), "partially_refunded": _l("partly refunded")}
ENROLLMENT_STATUS_NAMES = {"active": _l("active"), "completed": _l("completed"), "withdrawn": _l("withdrawn")}
DAY_NAMES = {"Monday": _l("Monday"), "Tuesday": _l("Tuesday"), "Wednesday": _l("Wednesday"),
             "Thursday": _l("Thursday"), "Friday": _l("Friday"), "Saturday": _l("Saturday"), "Sunday": _l("Sunday")}
ATTENDANCE_STATUS_NAMES = {"present": _l("Present"), "late": _l("Late"), "absent": _l("Absent")}
CLASS_TYPE_NAMES = {"group": _l("group"), "private": _l("private")}


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object
    roles: tuple[str, ...]


NAV_ITEMS = (
    NavItem("main.dashboard", _l("Dashboard"), EVERYONE),
    NavItem("learn.my_classes", _l("My classes"), ("student",)),
    NavItem("classes.index", _l("Classes"), TEACHING_ROLES),
    NavItem("learn.grading_queue", _l("Grading"), GRADERS),
    NavItem("catalog.index", _l("Catalog"), EVERYONE),
    NavItem("authoring.courses_index", _l("My courses"), AUTHORS),
    NavItem("admin.users_index", _l("Users"), STAFF_ROLES),
    NavItem("attendance.out_of_credits", _l("Out of credits"), STAFF_ROLES),
    NavItem("reports.index", _l("Reports"), STAFF_ROLES),
    NavItem("notifications.failed_mail_index", _l("Failed emails"), STAFF_ROLES),
    NavItem("community.feed", _l("Community"), EVERYONE),
    NavItem("gamification.leaderboard", _l("Leaderboard"), EVERYONE),
    NavItem("gamification.badge_list", _l("Badges"), EVERYONE),
    NavItem("messages.index", _l("Messages"), EVERYONE),
    NavItem("messages.reports", _l("Reported messages"), STAFF_ROLES),
    NavItem("payments.queue", _l("Payments"), STAFF_ROLES),
    NavItem("payments.my_invoices", _l("My payments"), ("student",)),
)


def navigation_for() -> list[dict]:
    """The menu of the signed-in person's role, this page's entry marked; built once per role, language and page.

    Every page draws it: url_for and a translation per entry cost more than the
    rest of the header, and they depend only on these keys (and the mount point).
    """
    if not has_request_context() or not current_user.is_authenticated:
        return []  # emails and jobs render templates outside a request
    key = (current_user.role, str(get_locale()), request.script_root, request.endpoint)
    cache = current_app.extensions.setdefault("babyowl.navigation", {})
    items = cache.get(key)
    if items is None:
        role, endpoint, views = key[0], key[3], current_app.view_functions
        items = cache[key] = [
            {"url": url_for(item.endpoint), "label": str(item.label), "active": endpoint == item.endpoint}
            for item in NAV_ITEMS if role in item.roles and item.endpoint in views]
    return items


# The base layout's own links (name: endpoint and arguments), the same on every page.
LAYOUT_LINKS = {
    "css": ("static", {"filename": "css/app.css"}),
    "htmx": ("static", {"filename": "vendor/htmx/htmx.min.js"}),
    "logo": ("static", {"filename": "img/logo.svg"}),
    "home": ("main.index", {}),
    "notifications": ("notifications.index", {}),
    "bell": ("notifications.bell", {}),
    "messages": ("messages.index", {}),
    "messages_badge": ("messages.badge", {}),
    "set_language": ("main.set_language", {}),
    "profile": ("account.profile", {}),
    "logout": ("auth.logout", {}),
    "login": ("auth.login", {}),
    "resend_verification": ("auth.resend_verification", {}),
}


class _UrlsWhenAsked(dict):
    def __missing__(self, name: str) -> str:
        endpoint, values = LAYOUT_LINKS[name]
        return url_for(endpoint, **values)


def layout_urls() -> dict[str, str]:
    """The layout's links, built once per mount point: a url_for each (~20 µs) on every page was a tenth of the
    layout's own cost, for URLs that never change while the process runs."""
    if not has_request_context():
        return _UrlsWhenAsked()  # a template rendered by a job (an email): only the links it uses, if any
    cache = current_app.extensions.setdefault("babyowl.layout_urls", {})
    urls = cache.get(request.script_root)
    if urls is None:
        urls = cache[request.script_root] = {
            name: url_for(endpoint, **values) for name, (endpoint, values) in LAYOUT_LINKS.items()}
    return urls
