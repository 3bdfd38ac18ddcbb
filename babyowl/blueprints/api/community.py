"""The community in the JSON API: the feed, posts, comments, likes, reports, moderation, study groups and events.
Every rule is the services' (`community.py`, `community_groups.py`, `community_events.py`), asked as the pages ask.
"""
from __future__ import annotations

import uuid

from flask import request
from flask_babel import gettext as _

from babyowl.authz import STAFF_ROLES
from babyowl.blueprints.api import schemas_community as s
from babyowl.blueprints.api.core import (
    STORED_FILE_ELSEWHERE, answers_file, api_user, authenticated, decode_cursor, form_body, json_body, keyset_meta,
    ok, responses, spec, stored_file,
)
from babyowl.blueprints.params import uploaded_file
from babyowl.blueprints.api.schemas import Done
from babyowl.blueprints.api.views import bp
from babyowl.services import community, community_events, community_groups
from babyowl.services.errors import InvalidInput

TAGS = ["community"]


def _post_out(post, liked: bool | None = None) -> s.PostOut:
    if liked is None:
        liked = post.id in community.liked_among(api_user(), [post.id])
    return s.PostOut.model_validate(post).model_copy(update={
        "author_name": post.author.full_name if post.author else None, "liked": liked,
        "image_count": len(post.images)})


def _comment_out(comment) -> s.CommentOut:
    return s.CommentOut.model_validate(comment).model_copy(update={
        "author_name": comment.author.full_name if comment.author else None})


@bp.get("/community/posts")
@authenticated()
@spec.validate(query=s.FeedQuery, resp=responses(s.PostOut, many=True), tags=TAGS)
def community_feed():
    """Newest first, by cursor: what I may see (the school's posts, my classes', my groups'), or one scope."""
    query: s.FeedQuery = request.context.query
    if query.cursor and community.decode_cursor(query.cursor) is None:  # the page starts over; an app is told
        raise InvalidInput(_("This page link is not valid. Start again from the first page."))
    if query.group_id is not None:
        community_groups.group_for(api_user(), query.group_id)  # a group that does not exist: 404
    page = community.feed(api_user(), show=query.show, cursor=query.cursor, group_id=query.group_id,
                          class_id=query.class_id, limit=query.limit)
    return ok([_post_out(post, post.id in page.liked) for post in page.posts], has_more=page.next_cursor is not None,
              next_cursor=page.next_cursor, limit=query.limit)


@bp.post("/community/posts")
@authenticated()
@spec.validate(json=s.PostIn, resp=responses(s.PostOut, 201), tags=TAGS)
def create_post():
    """Publish a post (or, when the school says so, hold a student's post for approval: `status` pending)."""
    body: s.PostIn = json_body()
    post = community.create_post(api_user(), content=body.content, scope=body.scope, target_id=body.target_id,
                                 coding_submission_id=body.coding_submission_id)
    return ok(_post_out(post, False), 201)


@bp.post("/community/posts/files")
@authenticated()
@spec.validate(form=s.PostFilesForm, resp=responses(s.PostOut, 201), tags=TAGS)
def create_post_with_files():
    """Publish a post with pictures or a turtle drawing (multipart/form-data), by the same rules as `POST
    /community/posts`: the pictures are checked and re-encoded as the page's are."""
    form: s.PostFilesForm = form_body()
    images = [uploaded_file(image) for image in request.files.getlist("images")]
    post = community.create_post(api_user(), content=form.content, scope=form.scope, target_id=form.target_id,
                                 images=images, coding_submission_id=form.coding_submission_id,
                                 drawing=form.drawing or None)
    return ok(_post_out(post, False), 201)


@bp.get("/community/posts/<uuid:post_id>")
@authenticated()
@spec.validate(resp=responses(s.PostOut), tags=TAGS)
def get_post(post_id: uuid.UUID):
    return ok(_post_out(community.open_post(api_user(), post_id)))


@bp.get("/community/posts/<uuid:post_id>/images/<int:position>")
@answers_file("image/jpeg")
@authenticated()
@spec.validate(resp=responses(None, extra=STORED_FILE_ELSEWHERE), tags=TAGS)
def post_image(post_id: uuid.UUID, position: int):
    """A post's picture (`image_count` says how many; the first is 0), for whoever may read the post."""
    image = community.post_image(api_user(), post_id, position)
    return stored_file(image.storage_key, cache_control="private, max-age=604800, immutable")


@bp.put("/community/posts/<uuid:post_id>")
@authenticated()
@spec.validate(json=s.PostEditIn, resp=responses(s.PostOut), tags=TAGS)
def edit_post(post_id: uuid.UUID):
    return ok(_post_out(community.edit_own_post(api_user(), post_id, json_body().content)))


@bp.delete("/community/posts/<uuid:post_id>")
@authenticated()
@spec.validate(resp=responses(s.PostOut), tags=TAGS)
def delete_post(post_id: uuid.UUID):
    return ok(_post_out(community.delete_own_post(api_user(), post_id)))


@bp.get("/community/posts/<uuid:post_id>/comments")
@authenticated()
@spec.validate(query=s.PageQuery, resp=responses(s.CommentOut, many=True), tags=TAGS)
def post_comments(post_id: uuid.UUID):
    """Oldest first, by cursor (staff also see the comments taken away)."""
    query = request.context.query
    after = decode_cursor(query.cursor)
    who = community.reader(api_user())
    post = community.open_post(api_user(), post_id, who)
    page = community.comments_after(post, after=after, limit=query.limit, staff=who.staff)
    return ok([_comment_out(c) for c in page.items], **keyset_meta(page))


@bp.post("/community/posts/<uuid:post_id>/comments")
@authenticated()
@spec.validate(json=s.CommentIn, resp=responses(s.CommentOut, 201), tags=TAGS)
def add_comment(post_id: uuid.UUID):
    return ok(_comment_out(community.add_comment(api_user(), post_id, json_body().content)), 201)


@bp.delete("/community/comments/<uuid:comment_id>")
@authenticated()
@spec.validate(resp=responses(s.CommentOut), tags=TAGS)
def delete_comment(comment_id: uuid.UUID):
    return ok(_comment_out(community.delete_own_comment(api_user(), comment_id)))


@bp.put("/community/posts/<uuid:post_id>/like")
@authenticated()
@spec.validate(resp=responses(s.PostOut), tags=TAGS)
def like_post(post_id: uuid.UUID):
    """Like once: sent again (a double tap, another device) it changes nothing."""
    return ok(_post_out(community.like(api_user(), post_id), True))


@bp.delete("/community/posts/<uuid:post_id>/like")
@authenticated()
@spec.validate(resp=responses(s.PostOut), tags=TAGS)
def unlike_post(post_id: uuid.UUID):
    return ok(_post_out(community.unlike(api_user(), post_id), False))


@bp.post("/community/posts/<uuid:post_id>/report")
@authenticated()
@spec.validate(json=s.CommunityReportIn, resp=responses(Done, 201), tags=TAGS)
def report_post(post_id: uuid.UUID):
    """Tell staff what is wrong with a post (reporting it again changes nothing)."""
    community.report(api_user(), reason=json_body().reason, post_id=post_id)
    return ok(Done(), 201)


@bp.post("/community/comments/<uuid:comment_id>/report")
@authenticated()
@spec.validate(json=s.CommunityReportIn, resp=responses(Done, 201), tags=TAGS)
def report_comment(comment_id: uuid.UUID):
    community.report(api_user(), reason=json_body().reason, comment_id=comment_id)
    return ok(Done(), 201)


@bp.post("/community/posts/<uuid:post_id>/moderation")
@authenticated(*STAFF_ROLES)
@spec.validate(json=s.ModerationIn, resp=responses(s.PostOut), tags=TAGS)
def moderate_post(post_id: uuid.UUID):
    """Staff approve a pending post, hide or remove one (with the reason: who, when and why are kept), or dismiss
    its reports."""
    body: s.ModerationIn = json_body()
    return ok(_post_out(community.moderate_post(api_user(), post_id, body.action, body.reason)))


@bp.post("/community/comments/<uuid:comment_id>/moderation")
@authenticated(*STAFF_ROLES)
@spec.validate(json=s.ModerationIn, resp=responses(s.CommentOut), tags=TAGS)
def moderate_comment(comment_id: uuid.UUID):
    body: s.ModerationIn = json_body()
    return ok(_comment_out(community.moderate_comment(api_user(), comment_id, body.action, body.reason)))


# --- study groups and events ---------------------------------------------------------------------------------

def _group_out(group, roles: dict) -> s.GroupOut:
    return s.GroupOut.model_validate(group).model_copy(update={"my_role": roles.get(group.id)})


@bp.get("/community/groups")
@authenticated()
@spec.validate(query=s.PageQuery, resp=responses(s.GroupOut, many=True), tags=TAGS)
def list_groups():
    """The school's active groups (and the group requests: staff all, a student their own), by name."""
    query = request.context.query
    page = community_groups.groups_after(api_user(), after=decode_cursor(query.cursor), limit=query.limit)
    roles = community_groups.memberships_of(api_user())
    return ok([_group_out(g, roles) for g in page.items], **keyset_meta(page))


def _my_group(group) -> s.GroupOut:
    return _group_out(group, community_groups.memberships_of(api_user()))


@bp.post("/community/groups/<uuid:group_id>/join")
@authenticated()
@spec.validate(resp=responses(s.GroupOut), tags=TAGS)
def join_group(group_id: uuid.UUID):
    """Join an open group (or an invitation group I was invited to); joining again changes nothing."""
    return ok(_my_group(community_groups.join(api_user(), group_id)))


@bp.post("/community/groups/<uuid:group_id>/leave")
@authenticated()
@spec.validate(resp=responses(s.GroupOut), tags=TAGS)
def leave_group(group_id: uuid.UUID):
    return ok(_my_group(community_groups.leave(api_user(), group_id)))


def _event_out(event, answers: dict) -> s.EventOut:
    return s.EventOut.model_validate(event).model_copy(update={
        "full": community_events.is_full(event), "my_rsvp": answers.get(event.id)})


@bp.get("/community/events")
@authenticated()
@spec.validate(query=s.PageQuery, resp=responses(s.EventOut, many=True), tags=TAGS)
def list_events():
    """Events from today on, soonest first, each with my answer."""
    query = request.context.query
    page = community_events.upcoming_after(after=decode_cursor(query.cursor), limit=query.limit)
    answers = community_events.rsvps_of(api_user(), [e.id for e in page.items])
    return ok([_event_out(e, answers) for e in page.items], **keyset_meta(page))


@bp.put("/community/events/<uuid:event_id>/rsvp")
@authenticated()
@spec.validate(json=s.RsvpIn, resp=responses(s.EventOut), tags=TAGS)
def rsvp_event(event_id: uuid.UUID):
    """Attending, maybe or declined (again to change it); attending a full event is refused (409)."""
    status = json_body().status
    event = community_events.rsvp(api_user(), event_id, status)
    return ok(_event_out(event, {event.id: status}))
