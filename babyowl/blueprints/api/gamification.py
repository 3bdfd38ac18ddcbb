"""The JSON API's gamification: levels, XP (history, staff's award), streaks, class leaderboards, badges.

Who sees what is the pages' rule (services/profiles.py, leaderboards.py, badges.py): a student's level and streak
for the student, their classmates, their instructors and staff; the XP history without the classmates; a class's
board as its page shows it to the caller (off, anonymous, neighbours, names).
"""
from __future__ import annotations

import uuid

from flask import request, url_for
from flask_babel import gettext as _

from babyowl.authz import STAFF_ROLES, TEACHING_ROLES
from babyowl.blueprints.api import schemas_gamification as g
from babyowl.blueprints.api.core import (
    PageQuery, api_user, authenticated, decode_cursor, json_body, keyset_meta, ok, responses, spec,
)
from babyowl.blueprints.api.views import bp
from babyowl.services import badges, leaderboards, profiles, streaks, xp
from babyowl.services.errors import InvalidInput


def _reason_name(reason: str) -> str:
    from babyowl.blueprints.gamification.views import XP_REASON_NAMES

    return str(XP_REASON_NAMES.get(reason, reason))


def _entry_fields(row) -> dict:
    return {"id": row.id, "amount": row.amount, "reason": row.reason, "reason_name": _reason_name(row.reason),
            "class_id": row.class_id, "note": row.note, "created_at": row.created_at}


def _level_out(standing) -> g.LevelOut:
    info = standing.info
    return g.LevelOut(user_id=standing.user_id, total_xp=standing.total_xp, level=info.level,
                      level_floor_xp=info.floor, next_level_xp=info.next_at, xp_to_next=info.to_next,
                      percent=info.percent)


# --- A student's level, streak and XP history ----------------------------------------------------------------------

@bp.get("/users/<uuid:user_id>/level")
@authenticated()
@spec.validate(resp=responses(g.LevelOut), tags=["gamification"])
def user_level(user_id: uuid.UUID):
    """A student's level and XP: for the student, their classmates, their instructors and staff (as the profile)."""
    student = profiles.student_profile(api_user(), user_id)
    return ok(_level_out(xp.standing(student.id)))


@bp.get("/users/<uuid:user_id>/streak")
@authenticated()
@spec.validate(resp=responses(g.StreakOut), tags=["gamification"])
def user_streak(user_id: uuid.UUID):
    """The daily and weekly streaks, counted from the ledger when read (same people as the level)."""
    student = profiles.student_profile(api_user(), user_id)
    streak = streaks.streak_for(student.id)
    return ok(g.StreakOut(user_id=student.id, days=streak.days, start=streak.start, active_today=streak.active_today,
                          repaired=streak.repaired, weeks=streak.weeks))


@bp.get("/users/<uuid:user_id>/xp")
@authenticated()
@spec.validate(query=PageQuery, resp=responses(g.XPEntryOut, many=True), tags=["gamification"])
def xp_history(user_id: uuid.UUID):
    """The XP ledger of a student, newest first (with staff's notes): the student, their instructors and staff;
    a classmate is refused (403)."""
    query = request.context.query
    student = profiles.student_to_follow(api_user(), user_id)
    page = xp.history_after(student.id, after=decode_cursor(query.cursor), limit=query.limit)
    return ok([g.XPEntryOut(**_entry_fields(row)) for row in page.items], **keyset_meta(page))


@bp.post("/xp/earn")
@authenticated(*STAFF_ROLES)
@spec.validate(json=g.EarnIn, resp=responses(g.EarnedOut, 201), tags=["gamification"])
def earn_xp():
    """Staff add or remove XP with a reason (the profile page's bonus). With `reference`, sending the same award
    again (a retry, or two at once) writes one ledger row and answers that row."""
    body: g.EarnIn = json_body()
    row = xp.give_bonus(api_user(), body.user_id, body.amount, body.reason, class_id=body.class_id,
                        reference=body.reference)
    standing = xp.standing(body.user_id)
    return ok(g.EarnedOut(**_entry_fields(row), user_id=body.user_id, total_xp=standing.total_xp,
                          level=standing.info.level), 201)


# --- Class leaderboards --------------------------------------------------------------------------------------------

def _board_out(board) -> g.LeaderboardOut:
    return g.LeaderboardOut(
        class_id=board.school_class.id, class_name=board.school_class.name, period=board.period, mode=board.mode,
        neighbours=board.neighbours, visible=board.visible, names=board.names, me_opted_out=board.me_opted_out,
        can_configure=board.can_configure,
        rows=[g.LeaderboardRowOut(rank=row.rank, label=row.label, xp=row.xp, is_me=row.is_me,
                                  opted_out=row.opted_out, user_id=row.user_id) for row in board.rows])


@bp.get("/leaderboard")
@authenticated()
@spec.validate(query=g.LeaderboardQuery, resp=responses(g.LeaderboardOut), tags=["gamification"])
def leaderboard():
    """A class's board as its page shows it to the caller: off for its students unless the class turned it on,
    others anonymous ("Student 7") or only the neighbours, opted-out students hidden; staff and the class's
    instructor see everyone by name. The class's students, its instructor and staff; to others it does not exist."""
    query: g.LeaderboardQuery = request.context.query
    return ok(_board_out(leaderboards.board(api_user(), query.class_id, query.period)))


@bp.put("/classes/<uuid:class_id>/leaderboard")
@authenticated(*TEACHING_ROLES)
@spec.validate(json=g.LeaderboardSettingsIn, resp=responses(g.LeaderboardOut), tags=["gamification"])
def leaderboard_settings(class_id: uuid.UUID):
    """Staff or the class's instructor choose how its board shows (off, anonymous, neighbours, full)."""
    body: g.LeaderboardSettingsIn = json_body()
    leaderboards.class_for(api_user(), class_id)  # not found before anything else for a class not theirs
    leaderboards.configure(api_user(), class_id, body.mode, body.neighbours)
    return ok(_board_out(leaderboards.board(api_user(), class_id)))


@bp.put("/me/leaderboard-preferences")
@authenticated("student")
@spec.validate(json=g.PreferencesIn, resp=responses(g.PreferencesOut), tags=["gamification"])
def leaderboard_preferences():
    """A student hides from class leaderboards, or sets the time zone their streak days are counted in."""
    body: g.PreferencesIn = json_body()
    leaderboards.set_preferences(api_user(), opt_out=body.opt_out, time_zone=body.time_zone)
    standing = xp.standing(api_user().id)
    return ok(g.PreferencesOut(opt_out=standing.opted_out, time_zone=standing.time_zone))


# --- Badges --------------------------------------------------------------------------------------------------------

def _badge_out(view) -> g.BadgeOut:
    badge, held = view.badge, view.earned
    return g.BadgeOut(id=badge.id, slug=badge.slug, name=view.name, description=view.description,
                      rarity=badge.rarity, rarity_name=str(badges.RARITY_NAMES.get(badge.rarity, badge.rarity)),
                      xp=badge.xp, image_url=url_for("static", filename=badge.image_url) if badge.image_url else None,
                      holders=view.holders, share_percent=view.share_percent, earned=held is not None,
                      earned_at=held.earned_at if held else None, user_badge_id=held.id if held else None,
                      shared=bool(held and held.shared_at))


@bp.get("/badges")
@authenticated()
@spec.validate(query=g.BadgesQuery, resp=responses(g.BadgeOut, many=True), tags=["gamification"])
def list_badges():
    """The school's badges with their rarity and how many students hold each, and which the caller earned
    (`earned=true`: only those), cheapest first."""
    query: g.BadgesQuery = request.context.query
    page = badges.catalog_after(api_user(), earned_only=query.earned, after=decode_cursor(query.cursor),
                                limit=query.limit)
    return ok([_badge_out(view) for view in page.items], **keyset_meta(page))


@bp.post("/badges/unlock")
@authenticated("student", *STAFF_ROLES)
@spec.validate(json=g.UnlockIn, resp=responses(g.UnlockOut), tags=["gamification"])
def unlock_badges():
    """Run the achievements check now (what the job does after each award): every badge whose criteria the student
    meets is awarded, once. No badge is given by hand. Staff name the student; a student checks themselves."""
    body: g.UnlockIn = json_body()
    if body.user_id is None and api_user().role != "student":
        raise InvalidInput(_("Name the student whose badges to check (user_id)."))
    student_id = body.user_id or api_user().id
    student = profiles.student_profile(api_user(), student_id)
    earned = {badge.id for badge in badges.check_asked_by(api_user(), student.id)}
    views = [view for view in badges.catalog_for(student) if view.badge.id in earned]
    return ok(g.UnlockOut(user_id=student_id, unlocked=[_badge_out(view) for view in views]))
