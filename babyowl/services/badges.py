"""Badges: earned by rules, checked after the event, shown with how many classmates hold them.

Rules
-----
- The school's badges are the catalog below (`seed_catalog()`, run by the demo
  and `flask badges-seed`; safe to repeat): slug, rarity, the JSON criteria
  (services/badge_criteria.py evaluates them) and the XP a badge gives.
- Badges are checked for a student by `check_achievements()`, run by a job
  queued after the commit of anything that earned XP (babyowl/jobs/gamification.py),
  and for everyone by `flask badges-backfill`. A badge is held once (UNIQUE
  user, badge; `INSERT ... ON CONFLICT DO NOTHING`), earns its XP once (the
  ledger key is the badge), and tells the student once (a `badge_earned`
  notification with its email; its event key is the badge).
- The same job awards streak milestones (XP_STREAK_MILESTONES): once per run,
  keyed by the run's first day.
- A badge page shows the share of students holding it (students who are
  active and not erased).
- Open Badges 2.0: a held badge becomes a hosted assertion (JSON at a stable
  URL under PUBLIC_URL, recipient email hashed with a per-badge salt) only
  when the student, or staff, chooses to share it; unshared, it does not exist.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import false, func, select

from babyowl.authz import is_staff
from babyowl.extensions import db
from babyowl.models import Badge, User, UserBadge
from babyowl.models.base import utcnow
from babyowl.services.badge_criteria import Facts, InvalidCriteria, criterion_for
from babyowl.services.errors import DomainError, NotAllowed
from babyowl.services.listing import Key, Slice, keyset_page
from babyowl.transactions import use_case

OB_CONTEXT = "https://w3id.org/openbadges/v2"


class BadgeNotFound(DomainError):
    status_code = 404


@dataclass(frozen=True)
class CatalogBadge:
    slug: str
    name: object
    description: object
    rarity: str
    criteria: dict
    xp: int


CATALOG = (
    CatalogBadge("langkah-pertama", _l("First Step"), _l("Complete your first exercise."), "common",
                 {"type": "exercises_completed", "count": 1}, 10),
    CatalogBadge("rajin-berlatih", _l("Keen Practiser"), _l("Complete 25 exercises."), "rare",
                 {"type": "exercises_completed", "count": 25}, 50),
    CatalogBadge("pelajaran-pertama", _l("First Lesson"), _l("Complete every exercise of a lesson."), "common",
                 {"type": "lessons_completed", "count": 1}, 15),
    CatalogBadge("penjelajah", _l("Explorer"), _l("Complete 10 lessons."), "rare",
                 {"type": "lessons_completed", "count": 10}, 60),
    CatalogBadge("kode-pertama", _l("First Code"), _l("Pass the tests of a coding exercise."), "common",
                 {"type": "coding_passed", "count": 1}, 15),
    CatalogBadge("pemecah-masalah", _l("Problem Solver"), _l("Pass the tests of 10 coding exercises."), "epic",
                 {"type": "coding_passed", "count": 10}, 100),
    CatalogBadge("nilai-sempurna", _l("Perfect Score"), _l("Answer every question of a quiz correctly."), "rare",
                 {"type": "perfect_quiz", "count": 1}, 25),
    CatalogBadge("selalu-hadir", _l("Always There"), _l("Attend 8 meetings of a class in a row."), "epic",
                 {"type": "attendance_run", "meetings": 8}, 80),
    CatalogBadge("api-semangat", _l("On Fire"), _l("Practise 7 days in a row."), "rare",
                 {"type": "daily_streak", "days": 7}, 40),
    CatalogBadge("tekun-mingguan", _l("Steady Weeks"), _l("Practise in 4 weeks in a row."), "rare",
                 {"type": "weekly_streak", "weeks": 4}, 40),
    CatalogBadge("tugas-pertama", _l("First Assignment"), _l("Get your first assignment graded."), "common",
                 {"type": "assignments_graded", "count": 1}, 15),
    CatalogBadge("lulus-kursus", _l("Course Complete"), _l("Complete every lesson of a course."), "legendary",
                 {"type": "course_finished", "count": 1}, 200),
    CatalogBadge("level-lima", _l("Level 5"), _l("Reach level 5."), "epic",
                 {"type": "level_reached", "level": 5}, 50),
)
_BY_SLUG = {badge.slug: badge for badge in CATALOG}
RARITY_NAMES = {"common": _l("common"), "rare": _l("rare"), "epic": _l("epic"), "legendary": _l("legendary")}


def _lazy(badge: Badge, attribute: str):
    """The catalog's translatable text (rendered later in each reader's language), else the row's."""
    known = _BY_SLUG.get(badge.slug)
    return getattr(known, attribute) if known else (getattr(badge, attribute) or "")


def name_of(badge: Badge) -> str:
    known = _BY_SLUG.get(badge.slug)
    return str(known.name) if known else badge.name


def description_of(badge: Badge) -> str:
    known = _BY_SLUG.get(badge.slug)
    return str(known.description) if known else (badge.description or "")


def image_path(slug: str) -> str:
    return f"badges/{slug}.svg"


# ---------------------------------------------------------------------------
# The catalog

def ensure_catalog() -> list[Badge]:
    """Create or update the catalog's badges by slug (inner: no commit)."""
    for spec in CATALOG:
        criterion_for(spec.criteria)  # a typo in the catalog fails here, not on a student's page
    existing = {b.slug: b for b in db.session.scalars(select(Badge).where(
        Badge.slug.in_([s.slug for s in CATALOG])))}
    for spec in CATALOG:
        badge = existing.get(spec.slug)
        if badge is None:
            badge = Badge(slug=spec.slug)
            db.session.add(badge)
        with force_locale("en"):  # the row holds the English source; pages show the reader's language
            badge.name, badge.description = str(spec.name), str(spec.description)
        badge.rarity, badge.criteria, badge.xp = spec.rarity, spec.criteria, spec.xp
        badge.image_url = image_path(spec.slug)
    db.session.flush()
    return list(db.session.scalars(select(Badge).order_by(Badge.created_at, Badge.slug)))


@use_case
def seed_catalog() -> int:
    return len(ensure_catalog())


# ---------------------------------------------------------------------------
# Earning

def _milestones(user_id: uuid.UUID, facts: Facts) -> int:
    from babyowl.services import xp

    streak = facts.streak
    given = 0
    for days, amount in sorted(current_app.config["XP_STREAK_MILESTONES"].items()):
        if streak.days >= int(days) and streak.start is not None:
            key = uuid.uuid5(user_id, f"streak:{days}:{streak.start.isoformat()}")
            given += xp.award(user_id, "streak_milestone", key, int(amount))
    return given


def _earn(user: User, badge: Badge) -> bool:
    from babyowl.services import xp
    from babyowl.services.notifications import _insert, notify, path_for

    inserted = db.session.scalar(
        _insert(UserBadge).values(id=uuid.uuid4(), user_id=user.id, badge_id=badge.id, earned_at=utcnow())
        .on_conflict_do_nothing(index_elements=["user_id", "badge_id"]).returning(UserBadge.id))
    if inserted is None:
        return False
    if badge.xp:
        xp.award(user.id, "badge", badge.id, badge.xp)
    notify([user], kind="badge_earned", title=_l("New badge: %(name)s", name=_lazy(badge, "name")),
           message=_l("You earned the badge “%(name)s”: %(description)s", name=_lazy(badge, "name"),
                      description=_lazy(badge, "description")),
           reference_id=badge.id, link=path_for("gamification.badge", badge_id=badge.id),
           event_key=f"badge:{badge.id}")
    return True


def check_for(user_id: uuid.UUID) -> list[Badge]:
    """Award the streak milestones and every badge whose criteria the student now meets (inner: no commit)."""
    user = db.session.get(User, user_id)
    if user is None or user.role != "student" or user.erased_at is not None:
        return []
    facts = Facts(user_id)
    _milestones(user_id, facts)
    held = set(db.session.scalars(select(UserBadge.badge_id).where(UserBadge.user_id == user_id)))
    earned = []
    for badge in db.session.scalars(select(Badge).order_by(Badge.xp, Badge.slug)):
        if badge.id in held:
            continue
        try:
            criterion = criterion_for(badge.criteria)
        except InvalidCriteria:
            current_app.logger.warning("Badge %s has criteria no class understands: %r", badge.slug,
                                       badge.criteria)
            continue
        if criterion.met(facts) and _earn(user, badge):
            earned.append(badge)
            facts.__dict__.pop("ledger_counts", None)
            facts.__dict__.pop("total_xp", None)
    return earned


@use_case
def check_achievements(user_id: uuid.UUID) -> list[Badge]:
    return check_for(user_id)


@use_case
def check_asked_by(actor: User, student_id: uuid.UUID) -> list[Badge]:
    """The achievements job's check run now, asked by staff (any student) or a student (themselves): the badges
    whose criteria are met are awarded, as the job would; no badge is ever given by hand."""
    if not (is_staff(actor) or actor.id == student_id):
        raise NotAllowed(_("Only staff, or the student themselves, check a student's badges."))
    student = db.session.get(User, student_id)
    if student is None or student.role != "student" or student.erased_at is not None:
        raise BadgeNotFound(_("This student does not exist."))
    return check_for(student_id)


def backfill() -> int:
    """Check every student (one use case each, so one failure costs one student); returns badges awarded."""
    student_ids = db.session.scalars(select(User.id).where(User.role == "student", User.erased_at.is_(None))).all()
    return sum(len(check_achievements(student_id)) for student_id in student_ids)


# ---------------------------------------------------------------------------
# Pages

@dataclass
class BadgeView:
    badge: Badge
    holders: int
    students: int
    earned: UserBadge | None = None
    progress: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        return name_of(self.badge)

    @property
    def description(self) -> str:
        return description_of(self.badge)

    @property
    def share_percent(self) -> int:
        return round(self.holders * 100 / self.students) if self.students else 0


def _students() -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(
        User.role == "student", User.status == "active", User.erased_at.is_(None))) or 0


def _holders() -> dict[uuid.UUID, int]:
    return dict(db.session.execute(
        select(UserBadge.badge_id, func.count()).join(User, User.id == UserBadge.user_id)
        .where(User.role == "student", User.status == "active", User.erased_at.is_(None))
        .group_by(UserBadge.badge_id)).all())


_CHEAPEST_FIRST = (Key(Badge.xp, int), Key(Badge.slug, str))


def catalog_for(viewer: User) -> list[BadgeView]:
    """Every badge with the share of students holding it, and the viewer's own (four queries)."""
    view, query = _catalog(viewer, earned_only=False)
    return [view(b) for b in db.session.scalars(query.order_by(*(key.column for key in _CHEAPEST_FIRST)))]


def catalog_after(viewer: User, *, earned_only: bool = False, after: list | None = None, limit: int = 20) -> Slice:
    """One keyset page of the catalog, cheapest first (`earned_only`: the viewer's badges only)."""
    view, query = _catalog(viewer, earned_only=earned_only)
    return keyset_page(query, _CHEAPEST_FIRST, after=after, limit=limit).map(view)


def _catalog(viewer: User, *, earned_only: bool):
    students, holders = _students(), _holders()
    mine = {ub.badge_id: ub for ub in db.session.scalars(select(UserBadge).where(UserBadge.user_id == viewer.id))}
    query = select(Badge)
    if earned_only:
        query = query.where(Badge.id.in_(mine) if mine else false())
    return lambda badge: BadgeView(badge, holders.get(badge.id, 0), students, mine.get(badge.id)), query


def badge_for(viewer: User, badge_id: uuid.UUID) -> BadgeView:
    badge = db.session.get(Badge, badge_id)
    if badge is None:
        raise BadgeNotFound(_("This badge does not exist."))
    holders = _holders().get(badge.id, 0)
    earned = db.session.scalar(select(UserBadge).where(UserBadge.user_id == viewer.id,
                                                       UserBadge.badge_id == badge.id))
    view = BadgeView(badge, holders, _students(), earned)
    if viewer.role == "student" and earned is None:
        try:
            view.progress = criterion_for(badge.criteria).progress(Facts(viewer.id))
        except InvalidCriteria:
            view.progress = None
    return view


_LATEST_FIRST = (UserBadge.earned_at.desc(), UserBadge.id)


def latest_held(user_id, limit: int):
    """`badges_of`'s first `limit` badges as plain columns (id, slug, name, image_url, rarity: what a badge's
    icon and name need; place: 1, 2, ... in that order), for a page that reads them in a statement with other
    things (the student's home); `user_id` a bound parameter."""
    return (select(Badge.id, Badge.slug, Badge.name, Badge.image_url, Badge.rarity,
                   func.row_number().over(order_by=_LATEST_FIRST).label("place"))
            .select_from(UserBadge).join(Badge, Badge.id == UserBadge.badge_id).where(UserBadge.user_id == user_id)
            .order_by(*_LATEST_FIRST).limit(limit))


def badges_of(user_id: uuid.UUID, limit: int | None = None) -> list[UserBadge]:
    from sqlalchemy.orm import joinedload

    query = (select(UserBadge).options(joinedload(UserBadge.badge)).where(UserBadge.user_id == user_id)
             .order_by(*_LATEST_FIRST))
    if limit:
        query = query.limit(limit)
    return list(db.session.scalars(query))


# ---------------------------------------------------------------------------
# Open Badges 2.0 (hosted verification)

@use_case
def set_shared(actor: User, user_badge_id: uuid.UUID, shared: bool) -> UserBadge:
    """The student (or staff) publishes a held badge as an Open Badges assertion, or withdraws it."""
    held = db.session.get(UserBadge, user_badge_id, with_for_update=True)
    if held is None or not (held.user_id == actor.id or is_staff(actor)):
        raise BadgeNotFound(_("This badge does not exist."))
    if actor.role not in ("student", "staff", "super_admin"):
        raise NotAllowed(_("Only the student or staff share a badge."))
    if shared and held.shared_at is None:
        held.shared_at = utcnow()
        held.recipient_salt = held.recipient_salt or secrets.token_hex(16)
    elif not shared:
        held.shared_at = None
    return held


def _public(endpoint: str, **values) -> str:
    """Stable URLs: always under PUBLIC_URL, whatever host the request came through."""
    return current_app.config["PUBLIC_URL"].rstrip("/") + url_for(endpoint, **values)


def issuer_document() -> dict:
    config = current_app.config
    return {"@context": OB_CONTEXT, "type": "Issuer", "id": _public("gamification.ob_issuer"),
            "name": config["SCHOOL_NAME"], "url": config["PUBLIC_URL"].rstrip("/") + "/",
            "email": config["MAIL_DEFAULT_SENDER"].rsplit("<", 1)[-1].rstrip(">").strip()}


def badge_class_document(badge_id: uuid.UUID) -> dict:
    badge = db.session.get(Badge, badge_id)
    if badge is None:
        raise BadgeNotFound(_("This badge does not exist."))
    return {"@context": OB_CONTEXT, "type": "BadgeClass", "id": _public("gamification.ob_badge", badge_id=badge.id),
            "name": name_of(badge), "description": description_of(badge) or name_of(badge),
            "image": _public("static", filename=badge.image_url or image_path(badge.slug)),
            "criteria": {"id": _public("gamification.badge", badge_id=badge.id),
                         "narrative": description_of(badge) or name_of(badge)},
            "issuer": _public("gamification.ob_issuer"), "tags": [badge.rarity]}


def hashed_email(email: str, salt: str) -> str:
    return "sha256$" + hashlib.sha256((email.strip().lower() + salt).encode()).hexdigest()


def assertion_document(user_badge_id: uuid.UUID) -> dict:
    held = db.session.get(UserBadge, user_badge_id)
    if held is None or held.shared_at is None or held.user.erased_at is not None:
        raise BadgeNotFound(_("This badge does not exist."))
    return {"@context": OB_CONTEXT, "type": "Assertion",
            "id": _public("gamification.ob_assertion", user_badge_id=held.id),
            "recipient": {"type": "email", "hashed": True, "salt": held.recipient_salt,
                          "identity": hashed_email(held.user.email, held.recipient_salt)},
            "badge": _public("gamification.ob_badge", badge_id=held.badge_id),
            "verification": {"type": "hosted"},
            "issuedOn": held.earned_at.isoformat()}
