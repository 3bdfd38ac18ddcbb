"""XP, badges and class leaderboards: the pages, the Open Badges documents, staff's bonus XP."""
from __future__ import annotations

import uuid

from flask import Blueprint, flash, jsonify, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from babyowl.authz import ALL_ROLES, STAFF_ROLES, TEACHING_ROLES, roles_required
from babyowl.blueprints.gamification.forms import (
    MODE_NAMES, BonusForm, LeaderboardSettingsForm, PreferencesForm,
)
from babyowl.blueprints.params import parse_uuid
from babyowl.errors import on_refusal
from babyowl.rendering import is_htmx, redirect_to, render
from babyowl.services import badges, leaderboards, xp
from babyowl.services.badges import RARITY_NAMES

bp = Blueprint("gamification", __name__)

XP_REASON_NAMES = {
    "exercise_completed": _l("Exercise completed"), "lesson_completed": _l("Lesson completed"),
    "quiz_passed": _l("Quiz passed"), "coding_passed": _l("Coding exercise passed"),
    "assignment_graded": _l("Assignment graded"), "attendance": _l("Attended a meeting"),
    "streak_milestone": _l("Streak milestone"), "badge": _l("Badge earned"), "bonus": _l("Bonus from staff"),
    "community_post": _l("First community post"),
}


@bp.app_context_processor
def gamification_context():
    return {"badge_name": badges.name_of, "xp_reason_names": XP_REASON_NAMES}


# --- leaderboards -----------------------------------------------------------

def _board_page(class_id: uuid.UUID | None, *, settings_form=None, preferences_form=None, error=None,
                status: int = 200):
    period = request.args.get("period", "all")
    chosen = leaderboards.board(current_user, class_id, period) if class_id else None
    standing = xp.standing(current_user.id)
    if settings_form is None and chosen is not None:
        settings_form = LeaderboardSettingsForm(formdata=None, mode=chosen.mode, neighbours=chosen.neighbours)
    if preferences_form is None:
        preferences_form = PreferencesForm(formdata=None, opt_out=standing.opted_out,
                                           time_zone=standing.time_zone or "")
    return render("gamification/leaderboard.html", block="board", status=status, board=chosen,
                  classes=leaderboards.classes_for(current_user), settings_form=settings_form,
                  preferences_form=preferences_form, mode_names=MODE_NAMES, error=error)


@bp.route("/leaderboard")
@roles_required(*ALL_ROLES)
def leaderboard():
    """The class chooser; a student with one class goes straight to its board."""
    classes = leaderboards.classes_for(current_user)
    if current_user.role == "student" and len(classes) == 1:
        return _board_page(classes[0].id)
    return _board_page(None)


@bp.route("/leaderboard/<uuid:class_id>")
@roles_required(*ALL_ROLES)
def class_leaderboard(class_id: uuid.UUID):
    return _board_page(class_id)


@bp.route("/leaderboard/<uuid:class_id>/settings", methods=["POST"])
@roles_required(*TEACHING_ROLES)
def leaderboard_settings(class_id: uuid.UUID):
    form = LeaderboardSettingsForm()
    leaderboards.class_for(current_user, class_id)  # 404 before anything else for a class not theirs
    if not form.validate():
        return _board_page(class_id, settings_form=form, status=422)
    with on_refusal(lambda refused: _board_page(class_id, settings_form=form, error=refused.message,
                                                status=refused.status_code)):
        leaderboards.configure(current_user, class_id, form.mode.data, form.neighbours.data)
    if is_htmx():
        return _board_page(class_id)
    flash(_("Leaderboard settings saved."), "success")
    return redirect_to(url_for("gamification.class_leaderboard", class_id=class_id))


@bp.route("/leaderboard/preferences", methods=["POST"])
@roles_required("student")
def preferences():
    form = PreferencesForm()
    class_id = parse_uuid(request.form.get("class_id"))
    if not form.validate():
        flash(" ".join(str(e) for errors in form.errors.values() for e in errors), "error")
        return redirect_to(url_for("gamification.leaderboard"))
    with on_refusal(redirect_to_url=url_for("gamification.leaderboard")):
        leaderboards.set_preferences(current_user, opt_out=form.opt_out.data, time_zone=form.time_zone.data)
    flash(_("Your choices are saved."), "success")
    if class_id is not None:
        return redirect_to(url_for("gamification.class_leaderboard", class_id=class_id))
    return redirect_to(url_for("gamification.leaderboard"))


# --- badges -----------------------------------------------------------------

@bp.route("/badges")
@roles_required(*ALL_ROLES)
def badge_list():
    return render("gamification/badges.html", views=badges.catalog_for(current_user), rarity_names=RARITY_NAMES)


@bp.route("/badges/<uuid:badge_id>")
@roles_required(*ALL_ROLES)
def badge(badge_id: uuid.UUID):
    with on_refusal():
        view = badges.badge_for(current_user, badge_id)
    return render("gamification/badge.html", block="share", view=view, rarity_names=RARITY_NAMES)


@bp.route("/my-badges/<uuid:user_badge_id>/share", methods=["POST"])
@roles_required("student", *STAFF_ROLES)
def share_badge(user_badge_id: uuid.UUID):
    shared = request.form.get("shared") == "1"
    with on_refusal(redirect_to_url=url_for("gamification.badge_list")):
        held = badges.set_shared(current_user, user_badge_id, shared)
    flash(_("The badge is shared: its Open Badges link works now.") if shared
          else _("The badge is no longer shared."), "success")
    if held.user_id != current_user.id:
        return redirect_to(url_for("account.user_profile", user_id=held.user_id))
    return redirect_to(url_for("gamification.badge", badge_id=held.badge_id))


# --- Open Badges 2.0 hosted documents (public, stable URLs) ----------------------

def _json(document: dict):
    response = jsonify(document)
    response.mimetype = "application/ld+json"
    return response


@bp.route("/ob/issuer")
def ob_issuer():
    return _json(badges.issuer_document())


@bp.route("/ob/badges/<uuid:badge_id>")
def ob_badge(badge_id: uuid.UUID):
    with on_refusal():
        return _json(badges.badge_class_document(badge_id))


@bp.route("/ob/assertions/<uuid:user_badge_id>")
def ob_assertion(user_badge_id: uuid.UUID):
    with on_refusal():
        return _json(badges.assertion_document(user_badge_id))


# --- staff: bonus XP -----------------------------------------------------------

@bp.route("/users/<uuid:user_id>/xp", methods=["POST"])
@roles_required(*STAFF_ROLES)
def give_bonus(user_id: uuid.UUID):
    form = BonusForm()
    back = url_for("account.user_profile", user_id=user_id)
    with on_refusal(redirect_to_url=back):
        xp.student_for_bonus(current_user, user_id)
        if not form.validate():
            flash(" ".join(str(e) for errors in form.errors.values() for e in errors), "error")
            return redirect_to(back)
        row = xp.give_bonus(current_user, user_id, form.amount.data, form.note.data)
    flash(_("XP recorded: %(n)s.", n=f"{row.amount:+d}"), "success")
    return redirect_to(back)
