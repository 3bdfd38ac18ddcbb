"""The school's community: feed, posts, study groups, events and moderation. Signed-in people only."""
from __future__ import annotations

import uuid

from flask import Blueprint, Response, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from babyowl.authz import STAFF_ROLES, TEACHING_ROLES, is_staff, roles_required
from babyowl.blueprints.community.forms import (
    CommentForm, EditPostForm, EventForm, GroupForm, InviteForm, ModerationForm, PostForm, ReportForm, RSVPForm,
    SettingsForm,
)
from babyowl.blueprints.params import page_number, parse_uuid, uploaded_file
from babyowl.errors import on_refusal
from babyowl.rendering import is_htmx, redirect_to, render
from babyowl.security import safe_next_url
from babyowl.services import community, community_events, community_groups
from babyowl.services.errors import InvalidInput
from babyowl.storage import serve_file

bp = Blueprint("community", __name__, url_prefix="/community")


@bp.app_context_processor
def community_helpers():
    return {"community_events": community_events, "drawing_box": community.drawing_box}


def _back(fallback: str) -> str:
    return safe_next_url(request.form.get("next") or request.referrer or fallback)


# --- the feed and posts ---------------------------------------------------------------

def _post_form(group=None) -> PostForm:
    form = PostForm()
    if group is not None:
        form.where.choices = [SelectChoice(f"group:{group.id}", group.name)]
        form.where.default = f"group:{group.id}"
    else:
        choices = [SelectChoice("school", _("The whole school"))]
        choices += [SelectChoice(f"class:{c.id}", _("Class: %(name)s", name=c.name))
                    for c in community.postable_classes(current_user)]
        choices += [SelectChoice(f"group:{g.id}", _("Group: %(name)s", name=g.name))
                    for g in community.postable_groups(current_user)]
        form.where.choices = choices
    form.submission.choices = [SelectChoice("", _("No program"))] + [
        SelectChoice(str(s.id), _("%(exercise)s (attempt %(n)d%(passed)s)", exercise=s.exercise.title,
                                  n=s.attempt_number, passed=", " + _("passed") if s.passed else ""))
        for s in community.shareable_submissions(current_user)]
    if not form.is_submitted():
        form.process(data={"where": form.where.default or "school", "submission": request.args.get("share", "")})
    return form


def _feed_page(show="all", form=None, error=None, status=200, block=None, notice=None):
    show = show if show in community.FILTERS else "all"
    page = community.feed(current_user, show=show, cursor=request.args.get("cursor"))
    return render("community/feed.html", block=block, status=status, page=page, show=show, form=form or _post_form(),
                  error=error, notice=notice, pending=community.my_pending_posts(current_user),
                  filters=[("all", _("All")), ("classes", _("My classes")), ("groups", _("My groups"))],
                  staff=is_staff(current_user), feed_url=url_for("community.feed", show=show))


@bp.route("")
@login_required
def feed():
    return _feed_page(request.args.get("show", "all"),
                      block="feed_page" if request.args.get("cursor") else None)


def _where(value: str | None) -> tuple[str, uuid.UUID | None]:
    scope, _sep, target = (value or "school").partition(":")
    return scope, parse_uuid(target)


@bp.route("/posts", methods=["POST"])
@login_required
def create_post():
    group = None
    scope, target = _where(request.form.get("where"))
    if scope == "group" and request.form.get("from_group"):
        group = community_groups.group_for(current_user, target)
    form = _post_form(group)
    back = url_for("community.show_group", group_id=group.id) if group else url_for("community.feed")

    def again(error=None, status=422):
        if group is not None:
            return _group_page(group, form=form, error=error, status=status, block="group_post_form")
        return _feed_page(form=form, error=error, status=status, block="post_form")

    if not form.validate_on_submit():
        return again()
    images = [uploaded_file(f) for f in request.files.getlist(form.images.name)]
    with on_refusal(lambda refused: again(refused.message, refused.status_code)):
        post = community.create_post(current_user, content=form.content.data, scope=scope, target_id=target,
                                     images=images, coding_submission_id=parse_uuid(form.submission.data),
                                     drawing=form.drawing.data or None)
    message = _("Your post waits for approval by staff.") if post.status == "pending" else _("Posted.")
    flash(message, "success")
    return redirect_to(back)


def _post_page(post, *, comment_form=None, error=None, status=200, block=None):
    who = community.reader(current_user)
    return render("community/post.html", block=block, status=status, post=post,
                  liked=post.id in community.liked_among(current_user, [post.id]),
                  comments=community.comments_page(post, page_number(), staff=who.staff),
                  comment_form=comment_form or CommentForm(), report_form=ReportForm(), error=error,
                  staff=who.staff)


@bp.route("/posts/<uuid:post_id>")
@login_required
def show_post(post_id: uuid.UUID):
    with on_refusal():
        post = community.open_post(current_user, post_id)
    return _post_page(post)


def _like_answer(post, liked: bool):
    if is_htmx():
        return render("community/_post_card.html", block="like_button", post=post, liked=liked)
    return redirect_to(_back(url_for("community.show_post", post_id=post.id)))


@bp.route("/posts/<uuid:post_id>/like", methods=["POST"])
@login_required
def like(post_id: uuid.UUID):
    with on_refusal():
        post = community.like(current_user, post_id)
    return _like_answer(post, True)


@bp.route("/posts/<uuid:post_id>/unlike", methods=["POST"])
@login_required
def unlike(post_id: uuid.UUID):
    with on_refusal():
        post = community.unlike(current_user, post_id)
    return _like_answer(post, False)


@bp.route("/posts/<uuid:post_id>/comments", methods=["POST"])
@login_required
def add_comment(post_id: uuid.UUID):
    with on_refusal():
        post = community.open_post(current_user, post_id)
    form = CommentForm()
    if not form.validate_on_submit():
        return _post_page(post, comment_form=form, status=422, block="comments")
    with on_refusal(lambda refused: _post_page(post, comment_form=form, error=refused.message,
                                               status=refused.status_code, block="comments")):
        community.add_comment(current_user, post_id, form.content.data)
    if is_htmx():
        return _post_page(community.open_post(current_user, post_id), block="comments")
    flash(_("Comment added."), "success")
    return redirect_to(url_for("community.show_post", post_id=post_id) + "#comments")


@bp.route("/posts/<uuid:post_id>/delete", methods=["POST"])
@login_required
def delete_post(post_id: uuid.UUID):
    with on_refusal():
        community.delete_own_post(current_user, post_id)
    flash(_("Your post is deleted."), "success")
    return redirect_to(url_for("community.feed"))


def _edit_page(post, form, error=None, status=200):
    return render("community/edit_post.html", status=status, post=post, form=form, error=error)


@bp.route("/posts/<uuid:post_id>/edit", methods=["GET", "POST"])
@login_required
def edit_post(post_id: uuid.UUID):
    with on_refusal():
        post = community.post_to_edit(current_user, post_id)
    if request.method == "GET":
        return _edit_page(post, EditPostForm(data={"content": post.content}))
    form = EditPostForm()
    if not form.validate_on_submit():
        return _edit_page(post, form, status=422)
    with on_refusal(lambda refused: _edit_page(post, form, refused.message, refused.status_code)):
        community.edit_own_post(current_user, post_id, form.content.data)
    flash(_("Your post is saved."), "success")
    return redirect_to(url_for("community.show_post", post_id=post_id))


@bp.route("/comments/<uuid:comment_id>/delete", methods=["POST"])
@login_required
def delete_comment(comment_id: uuid.UUID):
    with on_refusal():
        comment = community.delete_own_comment(current_user, comment_id)
    flash(_("Your comment is deleted."), "success")
    return redirect_to(url_for("community.show_post", post_id=comment.post_id) + "#comments")


def _report(**target) -> Response:
    form = ReportForm()
    if not form.validate_on_submit():
        raise InvalidInput(_("Say briefly what is wrong."))
    community.report(current_user, reason=form.reason.data, **target)
    flash(_("Thank you. Staff will look at it."), "success")
    return redirect_to(_back(url_for("community.feed")))


@bp.route("/posts/<uuid:post_id>/report", methods=["POST"])
@login_required
def report_post(post_id: uuid.UUID):
    with on_refusal():
        return _report(post_id=post_id)


@bp.route("/comments/<uuid:comment_id>/report", methods=["POST"])
@login_required
def report_comment(comment_id: uuid.UUID):
    with on_refusal():
        return _report(comment_id=comment_id)


@bp.route("/images/<path:key>")
@login_required
def image(key: str):
    with on_refusal():
        community.image_for(current_user, key)
    return serve_file(key, cache_control="private, max-age=604800, immutable")


# --- moderation ---------------------------------------------------------------------

def _moderation_page(settings_form=None, error=None, status=200):
    current = community.settings()
    form = settings_form or SettingsForm(data={"posts_need_approval": current.posts_need_approval,
                                               "muted_words": "\n".join(current.muted_words)})
    return render("community/moderation.html", status=status, queue=community.moderation_queue(current_user),
                  settings_form=form, form=ModerationForm(), error=error)


@bp.route("/moderation")
@roles_required(*STAFF_ROLES)
def moderation():
    return _moderation_page()


def _moderate(moderate, target_id: uuid.UUID):
    form = ModerationForm()
    with on_refusal(redirect_to_url=url_for("community.moderation")):
        if not form.validate_on_submit():
            raise InvalidInput(_("Choose what to do."))
        moderate(current_user, target_id, form.action.data, form.reason.data)
    flash(_("Done."), "success")
    return redirect_to(_back(url_for("community.moderation")))


@bp.route("/moderation/posts/<uuid:post_id>", methods=["POST"])
@roles_required(*STAFF_ROLES)
def moderate_post(post_id: uuid.UUID):
    return _moderate(community.moderate_post, post_id)


@bp.route("/moderation/comments/<uuid:comment_id>", methods=["POST"])
@roles_required(*STAFF_ROLES)
def moderate_comment(comment_id: uuid.UUID):
    return _moderate(community.moderate_comment, comment_id)


@bp.route("/moderation/settings", methods=["POST"])
@roles_required(*STAFF_ROLES)
def save_settings():
    form = SettingsForm()
    if not form.validate_on_submit():
        return _moderation_page(form, status=422)
    with on_refusal(lambda refused: _moderation_page(form, refused.message, refused.status_code)):
        community.save_settings(current_user, posts_need_approval=form.posts_need_approval.data,
                                muted_words=community.parse_muted_words(form.muted_words.data))
    flash(_("Community settings saved."), "success")
    return redirect_to(url_for("community.moderation"))


# --- study groups -------------------------------------------------------------------

def _groups_page(form=None, error=None, status=200):
    return render("community/groups.html", status=status, block="group_form" if status != 200 else None,
                  groups=community_groups.groups_for(current_user),
                  memberships=community_groups.memberships_of(current_user),
                  invitations=community_groups.pending_invitations(current_user),
                  form=form or GroupForm(), error=error, direct=community_groups.may_create_directly(current_user),
                  staff=is_staff(current_user))


@bp.route("/groups")
@login_required
def groups():
    return _groups_page()


@bp.route("/groups", methods=["POST"])
@login_required
def create_group():
    form = GroupForm()
    if not form.validate_on_submit():
        return _groups_page(form, status=422)
    with on_refusal(lambda refused: _groups_page(form, refused.message, refused.status_code)):
        group = community_groups.create_group(current_user, name=form.name.data, description=form.description.data,
                                              join_policy=form.join_policy.data)
    if group.status == "requested":
        flash(_("Your request is sent; staff will decide about the group."), "success")
        return redirect_to(url_for("community.groups"))
    flash(_("The group is created."), "success")
    return redirect_to(url_for("community.show_group", group_id=group.id))


def _group_page(group, form=None, error=None, status=200, block=None):
    role = community_groups.role_in(current_user, group)
    managing = community_groups.may_manage(current_user, group)
    return render("community/group.html", block=block, status=status, group=group, role=role,
                  requests=community_groups.join_requests(group) if managing else [],
                  pending=community_groups.pending_kind(current_user, group) if role is None else None,
                  assigns_roles=role == "creator" or is_staff(current_user),
                  managing=managing, staff=is_staff(current_user),
                  members=community_groups.members(group),
                  page=community.feed(current_user, group_id=group.id, cursor=request.args.get("cursor")),
                  form=form or _post_form(group), error=error, invite_form=InviteForm(),
                  feed_url=url_for("community.show_group", group_id=group.id))


@bp.route("/groups/<uuid:group_id>")
@login_required
def show_group(group_id: uuid.UUID):
    with on_refusal():
        group = community_groups.group_for(current_user, group_id)
    return _group_page(group, block="feed_page" if request.args.get("cursor") else None)


def _group_action(group_id, action, message):
    with on_refusal(redirect_to_url=url_for("community.show_group", group_id=group_id)):
        action()
    flash(message, "success")
    return redirect_to(url_for("community.show_group", group_id=group_id))


@bp.route("/groups/<uuid:group_id>/join", methods=["POST"])
@login_required
def join_group(group_id: uuid.UUID):
    return _group_action(group_id, lambda: community_groups.join(current_user, group_id), _("You joined the group."))


@bp.route("/groups/<uuid:group_id>/leave", methods=["POST"])
@login_required
def leave_group(group_id: uuid.UUID):
    return _group_action(group_id, lambda: community_groups.leave(current_user, group_id), _("You left the group."))


@bp.route("/groups/<uuid:group_id>/invite", methods=["POST"])
@login_required
def invite(group_id: uuid.UUID):
    form = InviteForm()

    def send():
        # The service checks who may invite before it looks at the address.
        community_groups.invite(current_user, group_id, form.email.data if form.validate_on_submit() else "")

    return _group_action(group_id, send, _("The invitation is sent."))


@bp.route("/groups/<uuid:group_id>/request", methods=["POST"])
@login_required
def request_to_join(group_id: uuid.UUID):
    return _group_action(group_id, lambda: community_groups.request_to_join(current_user, group_id),
                         _("Your request is sent to the group's admins."))


@bp.route("/groups/<uuid:group_id>/requests/<uuid:user_id>", methods=["POST"])
@login_required
def answer_request(group_id: uuid.UUID, user_id: uuid.UUID):
    accept = request.form.get("decision") == "accept"
    return _group_action(group_id, lambda: community_groups.answer_request(current_user, group_id, user_id, accept),
                         _("The request is accepted.") if accept else _("The request is declined."))


@bp.route("/groups/<uuid:group_id>/members/<uuid:user_id>/role", methods=["POST"])
@login_required
def set_member_role(group_id: uuid.UUID, user_id: uuid.UUID):
    role = request.form.get("role", "")
    return _group_action(group_id, lambda: community_groups.set_role(current_user, group_id, user_id, role),
                         _("The role is changed."))


@bp.route("/groups/<uuid:group_id>/review", methods=["POST"])
@roles_required(*STAFF_ROLES)
def review_group(group_id: uuid.UUID):
    approve = request.form.get("decision") == "approve"
    with on_refusal(redirect_to_url=url_for("community.groups")):
        community_groups.review_request(current_user, group_id, approve)
    flash(_("The group is approved.") if approve else _("The request is declined."), "success")
    return redirect_to(url_for("community.groups"))


# --- events -------------------------------------------------------------------------

def _events_page(form=None, error=None, status=200):
    events = community_events.upcoming()
    return render("community/events.html", status=status, block="event_form" if status != 200 else None,
                  events=events, past=community_events.past(),
                  answers=community_events.rsvps_of(current_user, [e.id for e in events]),
                  form=form or EventForm(), error=error, creating=community_events.may_create(current_user),
                  calendar_url=url_for("community.calendar",
                                       token=community_events.calendar_token(current_user), _external=True))


@bp.route("/events")
@login_required
def events():
    return _events_page()


@bp.route("/events", methods=["POST"])
@roles_required(*TEACHING_ROLES)
def create_event():
    form = EventForm()
    if not form.validate_on_submit():
        return _events_page(form, status=422)
    with on_refusal(lambda refused: _events_page(form, refused.message, refused.status_code)):
        event = community_events.create_event(
            current_user, title=form.title.data, description=form.description.data, event_date=form.event_date.data,
            start_time=form.start_time.data, end_time=form.end_time.data, online=form.online.data,
            location=form.location.data, capacity=form.capacity.data)
    flash(_("The event is published."), "success")
    return redirect_to(url_for("community.show_event", event_id=event.id))


def _event_page(event, error=None, status=200, block=None):
    return render("community/event.html", block=block, status=status, event=event, error=error,
                  answer=community_events.rsvps_of(current_user, [event.id]).get(event.id),
                  attendees=community_events.attendees(event) if current_user.role in TEACHING_ROLES else None,
                  form=RSVPForm())


@bp.route("/events/<uuid:event_id>")
@login_required
def show_event(event_id: uuid.UUID):
    with on_refusal():
        event = community_events.event_for(event_id)
    return _event_page(event)


@bp.route("/events/<uuid:event_id>/rsvp", methods=["POST"])
@login_required
def rsvp(event_id: uuid.UUID):
    form = RSVPForm()
    with on_refusal():
        event = community_events.event_for(event_id)
    with on_refusal(lambda refused: _event_page(community_events.event_for(event_id), refused.message,
                                                refused.status_code, block="rsvp_panel")):
        if not form.validate_on_submit():
            raise InvalidInput(_("Choose going, maybe or not going."))
        event = community_events.rsvp(current_user, event_id, form.status.data)
    if is_htmx():
        return _event_page(event, block="rsvp_panel")
    flash(_("Your answer is saved."), "success")
    return redirect_to(url_for("community.show_event", event_id=event_id))


def _ics(content: bytes, name: str) -> Response:
    response = Response(content, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@bp.route("/events/<uuid:event_id>.ics")
@login_required
def event_ics(event_id: uuid.UUID):
    with on_refusal():
        event = community_events.event_for(event_id)
    return _ics(community_events.event_ics(event), "event.ics")


@bp.route("/calendar/<token>.ics")
def calendar(token: str):
    """A person's events for calendar apps (they cannot sign in): the signed link is the key."""
    with on_refusal():
        user = community_events.calendar_owner(token)
    return _ics(community_events.personal_ics(user), "babyowl-events.ics")
