"""The community feed: posts, likes, comments, moderation and the school's settings.

Rules:
- The community belongs to the school and is never public: every reader is a
  signed-in person of the school. A post is seen by its scope: the whole
  school, one class (its students, its instructor, staff) or one study group
  (its members, staff). A post in a group needs membership; in a class, being
  its student or instructor (staff may post anywhere).
- Text is Markdown, rendered once on write and sanitised by nh3
  (`exercise_types.richtext.render_markdown`): a `<script>` is inert text.
- A post carries up to four pictures, checked by what the bytes are (Pillow),
  re-encoded to JPEG and kept through the storage edge; and may embed one of
  its author's own coding submissions (the code, read-only).
- One like per person and post: a UNIQUE row, and the post's `likes_count`
  recounted in the same transaction, with the post row locked first so
  parallel likes count exactly. Comments are recounted the same way.
- The feed is newest first and pages with a cursor on (created_at, id): a
  post published between two pages never makes the next page repeat or skip
  one.
- Moderation: anyone reports a post or comment (once); staff see open reports
  with their context, and hide or remove with a reason (who/when/why are kept).
  An author deletes their own. A post taken away leaves every feed, and the
  notifications about it are deleted. When the school's setting says so,
  students' posts wait for staff approval; a muted word is refused.
- Notifications: a comment on your post (one each), likes as a digest (the
  sweep tells an author once about all likes since the last digest, never one
  per like).
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, delete, func, or_, select, tuple_, update
from sqlalchemy.orm import joinedload, selectinload

from babyowl.authz import is_staff
from babyowl.exercise_types.richtext import render_markdown
from babyowl.extensions import db
from babyowl.models import (
    ClassEnrollment,
    CodingSubmission,
    CommunityComment,
    CommunityGroup,
    CommunityGroupMember,
    CommunityPost,
    CommunityPostImage,
    CommunityPostLike,
    CommunityReport,
    CommunitySettings,
    Notification,
    SchoolClass,
    User,
)
from babyowl.models.base import utcnow
from babyowl.models.community import MAX_POST_IMAGES
from babyowl.services import xp
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.images import delete_stored, store_image
from babyowl.services.notifications import _insert, notify, path_for
from babyowl.services.uploads import use_case_owning_files
from babyowl.transactions import after_commit, use_case

MAX_POST = 5000
MAX_COMMENT = 2000
MAX_REASON = 500
FEED_PAGE = 20
COMMENTS_PAGE = 20
IMAGE_SIZE = (1600, 1600)
FILTERS = ("all", "classes", "groups", "school")
COMMUNITY_KINDS = ("community_comment", "community_likes")


class NotFound(DomainError):
    status_code = 404


class PostRefused(DomainError):
    status_code = 422


# --- the XP hook ----------------------------------------------------------------

def _community_activity(user_id: uuid.UUID, kind: str, reference_id: uuid.UUID) -> None:
    """Where community activity earns XP, inside the use case that did the thing.

    A first published post earns `community_post` XP once in a person's life:
    the ledger's key is the author's own id, so a second post, a re-approval or
    a retried request finds the row already there. Likes and comments received
    earn nothing on purpose: XP for popularity would rank children by how liked
    they are and reward asking friends to like-farm (unlike/like again).
    """
    if kind == "first_post":
        xp.award(user_id, "community_post", user_id, xp.points("community_post"))


# --- settings --------------------------------------------------------------------

def settings() -> CommunitySettings:
    """The school's community settings (defaults until staff save them)."""
    row = db.session.get(CommunitySettings, 1)
    return row if row is not None else CommunitySettings(id=1, posts_need_approval=False, muted_words=[])


def parse_muted_words(text: str) -> list[str]:
    words = []
    for line in re.split(r"[\n,]", text or ""):
        word = line.strip().lower()
        if word and word not in words:
            words.append(word[:100])
    return words[:500]


@use_case
def save_settings(actor: User, *, posts_need_approval: bool, muted_words: list[str]) -> CommunitySettings:
    if not is_staff(actor):
        raise NotAllowed(_("Only staff change the community settings."))
    row = db.session.get(CommunitySettings, 1, with_for_update=True)
    if row is None:
        row = CommunitySettings(id=1)
        db.session.add(row)
    row.posts_need_approval = posts_need_approval
    row.muted_words = list(muted_words)
    row.updated_by = actor.id
    return row


def _refuse_muted(text: str, muted: list[str]) -> None:
    lowered = text.lower()
    for word in muted:
        if re.search(r"(?<!\w)" + re.escape(word) + r"(?!\w)", lowered):
            raise PostRefused(_("Your text contains a word the school does not allow here. Change it and try again."))


# --- who sees what ----------------------------------------------------------------

@dataclass(frozen=True)
class Reader:
    """What one person may see: their classes and groups (ids), and whether they are staff."""

    user: User
    staff: bool
    class_ids: frozenset
    group_ids: frozenset


def reader(user: User) -> Reader:
    staff = is_staff(user)
    taught = select(SchoolClass.id).where(SchoolClass.instructor_id == user.id)
    enrolled = select(ClassEnrollment.class_id).where(ClassEnrollment.student_id == user.id,
                                                      ClassEnrollment.status != "withdrawn")
    class_ids = frozenset(db.session.scalars(taught.union(enrolled)))
    group_ids = frozenset(db.session.scalars(
        select(CommunityGroupMember.group_id).where(CommunityGroupMember.user_id == user.id)))
    return Reader(user, staff, class_ids, group_ids)


def _visible(who: Reader):
    """Published posts in a scope `who` belongs to (staff: every scope)."""
    published = CommunityPost.status == "published"
    if who.staff:
        return published
    return and_(published, or_(
        CommunityPost.scope == "school",
        and_(CommunityPost.scope == "class", CommunityPost.class_id.in_(who.class_ids or [uuid.UUID(int=0)])),
        and_(CommunityPost.scope == "group", CommunityPost.group_id.in_(who.group_ids or [uuid.UUID(int=0)])),
    ))


def may_see(who: Reader, post: CommunityPost) -> bool:
    if post.status in ("hidden", "removed", "deleted"):
        return who.staff
    if post.status == "pending" and not (who.staff or post.author_id == who.user.id):
        return False
    if who.staff or post.scope == "school":
        return True
    if post.scope == "class":
        return post.class_id in who.class_ids
    return post.group_id in who.group_ids


def _post_for(who: Reader, post_id: uuid.UUID | None, *, lock: bool = False) -> CommunityPost:
    post = None
    if post_id is not None:
        statement = select(CommunityPost).where(CommunityPost.id == post_id)
        if lock:
            statement = statement.with_for_update()
        post = db.session.scalars(statement.execution_options(populate_existing=lock)).first()
    if post is None or not may_see(who, post):
        raise NotFound(_("This post does not exist or was taken away."))
    return post


def open_post(user: User, post_id: uuid.UUID, who: Reader | None = None) -> CommunityPost:
    return _post_for(who or reader(user), post_id)


# --- the feed ---------------------------------------------------------------------

def encode_cursor(post: CommunityPost) -> str:
    raw = f"{post.created_at.isoformat()}|{post.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The (created_at, id) a cursor names, or None for a missing or mangled one (first page)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, post_id = raw.split("|")
        when = datetime.fromisoformat(moment)
        return (when, uuid.UUID(post_id)) if when.tzinfo else None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


@dataclass
class FeedPage:
    posts: list[CommunityPost]
    liked: set
    next_cursor: str | None


def _page_options(statement):
    return statement.options(
        joinedload(CommunityPost.author), joinedload(CommunityPost.group), joinedload(CommunityPost.school_class),
        joinedload(CommunityPost.coding_submission).joinedload(CodingSubmission.exercise),
        selectinload(CommunityPost.images))


def liked_among(user: User, post_ids) -> set:
    if not post_ids:
        return set()
    return set(db.session.scalars(select(CommunityPostLike.post_id).where(
        CommunityPostLike.user_id == user.id, CommunityPostLike.post_id.in_(post_ids))))


def feed(user: User, *, show: str = "all", cursor: str | None = None, group_id: uuid.UUID | None = None,
         class_id: uuid.UUID | None = None, limit: int = FEED_PAGE, who: Reader | None = None) -> FeedPage:
    """Newest first, `limit` posts after `cursor`; `show` is all, classes (my classes), groups (my groups) or
    school (the whole school's posts); `class_id` is one class's posts (not found for a class the reader is not in).

    A fixed number of statements whatever the number of posts, pictures,
    likes and comments: the reader's classes and groups, the page (authors,
    groups, classes and submissions joined), its pictures, and which of them
    the reader liked.
    """
    who = who or reader(user)
    statement = select(CommunityPost).where(_visible(who))
    if group_id is not None:
        statement = statement.where(CommunityPost.group_id == group_id)
    elif class_id is not None:
        if not who.staff and class_id not in who.class_ids:
            raise NotFound(_("This class does not exist."))
        statement = statement.where(CommunityPost.scope == "class", CommunityPost.class_id == class_id)
    elif show == "school":
        statement = statement.where(CommunityPost.scope == "school")
    elif show == "classes":
        statement = statement.where(CommunityPost.scope == "class",
                                    CommunityPost.class_id.in_(who.class_ids or [uuid.UUID(int=0)]))
    elif show == "groups":
        statement = statement.where(CommunityPost.scope == "group",
                                    CommunityPost.group_id.in_(who.group_ids or [uuid.UUID(int=0)]))
    after = decode_cursor(cursor)
    if after is not None:
        statement = statement.where(tuple_(CommunityPost.created_at, CommunityPost.id) < tuple_(*after))
    statement = _page_options(statement.order_by(CommunityPost.created_at.desc(), CommunityPost.id.desc())
                              .limit(limit + 1))
    posts = list(db.session.scalars(statement).unique())
    more = len(posts) > limit
    posts = posts[:limit]
    return FeedPage(posts, liked_among(user, [p.id for p in posts]),
                    encode_cursor(posts[-1]) if more and posts else None)


def my_pending_posts(user: User) -> list[CommunityPost]:
    return list(db.session.scalars(_page_options(select(CommunityPost).where(
        CommunityPost.author_id == user.id, CommunityPost.status == "pending")
        .order_by(CommunityPost.created_at.desc()))).unique())


def shareable_submissions(user: User, limit: int = 20) -> list[CodingSubmission]:
    """The person's own coding submissions they may embed in a post, newest first."""
    return list(db.session.scalars(
        select(CodingSubmission).where(CodingSubmission.user_id == user.id)
        .options(joinedload(CodingSubmission.exercise))
        .order_by(CodingSubmission.passed.desc(), CodingSubmission.created_at.desc()).limit(limit)))


def postable_groups(user: User) -> list[CommunityGroup]:
    statement = select(CommunityGroup).where(CommunityGroup.status == "active").order_by(CommunityGroup.name)
    if not is_staff(user):
        statement = statement.join(CommunityGroupMember).where(CommunityGroupMember.user_id == user.id)
    return list(db.session.scalars(statement))


def postable_classes(user: User) -> list[SchoolClass]:
    statement = select(SchoolClass).where(SchoolClass.status.in_(("enrollment_open", "active", "completed")))
    if not is_staff(user):
        who = reader(user)
        statement = statement.where(SchoolClass.id.in_(who.class_ids or [uuid.UUID(int=0)]))
    return list(db.session.scalars(statement.order_by(SchoolClass.name)))


# --- turtle drawings -----------------------------------------------------------------

MAX_DRAWING_ITEMS = 5000
MAX_DRAWING_BYTES = 600_000
_COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{1,30}|rgb\(\d{1,3}, ?\d{1,3}, ?\d{1,3}\)")
_ALIGNS = ("left", "center", "right")


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value or abs(value) > 1e6:
        raise ValueError("not a coordinate")
    return round(float(value), 2)


def _colour(value) -> str:
    return value if isinstance(value, str) and _COLOUR.fullmatch(value) else "black"


def clean_drawing(raw: str | None) -> dict | None:
    """The turtle's record as the coding page sends it, rebuilt from numbers and checked colours only.

    Shapes: lines [x1, y1, x2, y2, colour, width], dots [x, y, size, colour],
    fills [[[x, y], ...], colour], texts [x, y, words, colour, align, size]
    (see static/coding/turtle.py). Anything else is refused: the drawing is
    drawn as SVG on other people's screens.
    """
    if not raw:
        return None
    if len(raw) > MAX_DRAWING_BYTES:
        raise InvalidInput(_("This drawing is too big to share."))
    try:
        data = json.loads(raw)
        lines = [[*(_number(v) for v in item[:4]), _colour(item[4]), max(0.5, min(_number(item[5]), 50))]
                 for item in data.get("lines", [])]
        dots = [[_number(item[0]), _number(item[1]), max(1, min(_number(item[2]), 500)), _colour(item[3])]
                for item in data.get("dots", [])]
        fills = [[[[_number(p[0]), _number(p[1])] for p in item[0]], _colour(item[1])]
                 for item in data.get("fills", [])]
        texts = [[_number(item[0]), _number(item[1]), str(item[2])[:200], _colour(item[3]),
                  item[4] if item[4] in _ALIGNS else "left", max(1, min(_number(item[5]), 100))]
                 for item in data.get("texts", [])]
    except (ValueError, TypeError, AttributeError, IndexError, KeyError) as error:
        raise InvalidInput(_("This drawing cannot be read.")) from error
    if not (lines or dots or fills or texts):
        return None
    if len(lines) + len(dots) + len(fills) + len(texts) > MAX_DRAWING_ITEMS:
        raise InvalidInput(_("This drawing is too big to share."))
    return {"lines": lines, "dots": dots, "fills": fills, "texts": texts, "bg": _colour(data.get("bg", "white"))}


def drawing_box(drawing: dict) -> str:
    """The SVG viewBox around everything drawn (the page's rule: y grows upwards, 20 units of margin)."""
    points = [(x, y) for line in drawing["lines"] for x, y in ((line[0], line[1]), (line[2], line[3]))]
    points += [(d[0], d[1]) for d in drawing["dots"]] + [(t[0], t[1]) for t in drawing["texts"]]
    points += [tuple(p) for fill in drawing["fills"] for p in fill[0]]
    xs, ys = [p[0] for p in points] or [0], [-p[1] for p in points] or [0]
    pad = 20
    left, top = min(xs) - pad, min(ys) - pad
    return f"{left:g} {top:g} {max(max(xs) - left + pad, 1):g} {max(max(ys) - top + pad, 1):g}"


# --- posts ------------------------------------------------------------------------

def _check_scope(who: Reader, scope: str, target_id: uuid.UUID | None) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    if scope == "school":
        return None, None
    if scope == "group":
        group = db.session.get(CommunityGroup, target_id) if target_id else None
        if group is None or group.status != "active":
            raise NotFound(_("This group does not exist."))
        if not who.staff and group.id not in who.group_ids:
            raise NotAllowed(_("Only members of this group can post in it. Join the group first."))
        return None, group.id
    if scope == "class":
        if target_id is None or (not who.staff and target_id not in who.class_ids) or \
                db.session.get(SchoolClass, target_id) is None:
            raise NotFound(_("This class does not exist."))
        return target_id, None
    raise InvalidInput(_("Choose where to post."))


def _text(text: str, limit: int, muted: list[str]) -> str:
    text = (text or "").strip()
    if not text:
        raise InvalidInput(_("Write something first."))
    if len(text) > limit:
        raise InvalidInput(_("Use at most %(max)d characters.", max=limit))
    _refuse_muted(text, muted)
    return text


def create_post(author: User, *, content: str, scope: str = "school", target_id: uuid.UUID | None = None,
                images=(), coding_submission_id: uuid.UUID | None = None, drawing: str | None = None) -> CommunityPost:
    """Publish a post (or hold it for approval); its pictures are stored first and deleted if it is refused.

    A turtle `drawing` comes with the shared program it was drawn by (the coding page sends both).
    """
    with use_case_owning_files("community.create_post") as stored:
        images = [image for image in images if image is not None]
        if len(images) > MAX_POST_IMAGES:
            raise InvalidInput(_("A post can have at most %(max)d pictures.", max=MAX_POST_IMAGES))
        current = settings()
        text = _text(content, MAX_POST, current.muted_words)
        who = reader(author)
        class_id, group_id = _check_scope(who, scope, target_id)
        submission_id = None
        if coding_submission_id is not None:
            submission = db.session.get(CodingSubmission, coding_submission_id)
            if submission is None or submission.user_id != author.id:
                raise NotFound(_("You can only share your own programs."))
            submission_id = submission.id
        cleaned = clean_drawing(drawing)
        if cleaned is not None and submission_id is None:
            raise InvalidInput(_("A drawing is shared with the program that drew it."))
        for image in images:
            stored.append(store_image(image, "community", IMAGE_SIZE))
        pending = current.posts_need_approval and author.role == "student"
        post = CommunityPost(author_id=author.id, content=text, content_html=render_markdown(text), scope=scope,
                             class_id=class_id, group_id=group_id, coding_submission_id=submission_id,
                             drawing=cleaned, status="pending" if pending else "published")
        post.images = [CommunityPostImage(position=i, storage_key=key) for i, key in enumerate(stored)]
        db.session.add(post)
        db.session.flush()
        if not pending:
            _first_post_hook(author.id, post.id)
        return post


def post_to_edit(author: User, post_id: uuid.UUID | None, *, lock: bool = False) -> CommunityPost:
    """The author's own post while it is up (published or waiting for approval); refused for anyone else."""
    post = _post_for(reader(author), post_id, lock=lock)
    if post.author_id != author.id:
        raise NotAllowed(_("Only its author can edit a post."))
    if post.status not in ("published", "pending"):
        raise PostRefused(_("This post was taken away."))
    return post


@use_case
def edit_own_post(author: User, post_id: uuid.UUID, content: str) -> CommunityPost:
    """Its author changes a post's text: the same length, muted words and Markdown sanitising as a new post."""
    post = post_to_edit(author, post_id, lock=True)
    text = _text(content, MAX_POST, settings().muted_words)
    post.content, post.content_html = text, render_markdown(text)
    return post


def _first_post_hook(author_id: uuid.UUID, post_id: uuid.UUID) -> None:
    _community_activity(author_id, "first_post", post_id)


def _take_away(row, status: str, actor: User, reason: str | None) -> None:
    row.status = status
    row.moderated_by = actor.id
    row.moderated_at = utcnow()
    row.moderation_reason = reason


def _forget_notifications_about(post_id: uuid.UUID) -> None:
    db.session.execute(delete(Notification).where(Notification.reference_id == post_id,
                                                  Notification.type.in_(COMMUNITY_KINDS)))


@use_case
def delete_own_post(author: User, post_id: uuid.UUID) -> CommunityPost:
    post = _post_for(reader(author), post_id, lock=True)
    if post.author_id != author.id:
        raise NotAllowed(_("Only its author can delete a post."))
    _take_away(post, "deleted", author, None)
    _forget_notifications_about(post.id)
    _resolve_reports(author, post_id=post.id)
    return post


# --- likes --------------------------------------------------------------------------

def _recount_likes(post: CommunityPost) -> None:
    post.likes_count = db.session.scalar(select(func.count()).where(CommunityPostLike.post_id == post.id))


@use_case
def like(user: User, post_id: uuid.UUID) -> CommunityPost:
    """Like once: a second like (a double tap, another tab) changes nothing."""
    post = _post_for(reader(user), post_id, lock=True)
    if post.status != "published":
        raise PostRefused(_("This post cannot be liked yet."))
    like_id = uuid.uuid4()
    inserted = db.session.scalar(_insert(CommunityPostLike).values(
        id=like_id, post_id=post.id, user_id=user.id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["post_id", "user_id"]).returning(CommunityPostLike.id))
    _recount_likes(post)
    if inserted is not None and post.author_id != user.id:
        _community_activity(post.author_id, "like_received", like_id)
    return post


@use_case
def unlike(user: User, post_id: uuid.UUID) -> CommunityPost:
    post = _post_for(reader(user), post_id, lock=True)
    db.session.execute(delete(CommunityPostLike).where(CommunityPostLike.post_id == post.id,
                                                       CommunityPostLike.user_id == user.id))
    _recount_likes(post)
    return post


def send_like_digests() -> int:
    """Tell each author, once, about the likes their posts got since the last digest (the sweep runs it)."""
    now = utcnow()
    since = func.coalesce(CommunityPost.likes_notified_at, CommunityPost.created_at)
    candidates = db.session.scalars(select(CommunityPost.id).where(
        CommunityPost.status == "published",
        select(CommunityPostLike.id).where(CommunityPostLike.post_id == CommunityPost.id,
                                           CommunityPostLike.user_id != CommunityPost.author_id,
                                           CommunityPostLike.created_at > since).exists())).all()
    sent = 0
    for post_id in candidates:
        sent += _digest_post_likes(post_id, now)
    return sent


@use_case
def _digest_post_likes(post_id: uuid.UUID, now: datetime) -> int:
    post = db.session.scalars(select(CommunityPost).where(CommunityPost.id == post_id).with_for_update(
        skip_locked=True)).first()
    if post is None or post.status != "published":
        return 0
    since = post.likes_notified_at or post.created_at
    likers = db.session.scalars(
        select(User.full_name).join(CommunityPostLike, CommunityPostLike.user_id == User.id)
        .where(CommunityPostLike.post_id == post.id, CommunityPostLike.user_id != post.author_id,
               CommunityPostLike.created_at > since, CommunityPostLike.created_at <= now)
        .order_by(CommunityPostLike.created_at.desc())).all()
    post.likes_notified_at = now
    if not likers:
        return 0
    if len(likers) == 1:
        message = _l("%(name)s liked your post.", name=likers[0])
    else:
        message = _l("%(name)s and %(count)d others liked your post.", name=likers[0], count=len(likers) - 1)
    notify([post.author], kind="community_likes", title=_l("New likes on your post"), message=message,
           reference_id=post.id, link=path_for("community.show_post", post_id=post.id),
           event_key=f"community-likes:{post.id}:{now.isoformat()}")
    return 1


# --- comments ----------------------------------------------------------------------

def _recount_comments(post: CommunityPost) -> None:
    post.comments_count = db.session.scalar(select(func.count()).where(
        CommunityComment.post_id == post.id, CommunityComment.status == "published"))


@use_case
def add_comment(author: User, post_id: uuid.UUID, content: str) -> CommunityComment:
    post = _post_for(reader(author), post_id, lock=True)
    if post.status != "published":
        raise PostRefused(_("This post cannot get comments yet."))
    text = _text(content, MAX_COMMENT, settings().muted_words)
    comment = CommunityComment(post_id=post.id, author_id=author.id, content=text, content_html=render_markdown(text))
    db.session.add(comment)
    db.session.flush()
    _recount_comments(post)
    if post.author_id != author.id:
        notify([post.author], kind="community_comment", title=_l("New comment on your post"),
               message=_l("%(name)s commented: %(text)s", name=author.full_name, text=text[:140]),
               reference_id=post.id, link=path_for("community.show_post", post_id=post.id),
               event_key=f"community-comment:{comment.id}")
        _community_activity(post.author_id, "comment_received", comment.id)
    return comment


def comments_page(post: CommunityPost, page: int, *, staff: bool = False):
    from babyowl.services.listing import paginate

    statement = select(CommunityComment).where(CommunityComment.post_id == post.id)
    if not staff:
        statement = statement.where(CommunityComment.status == "published")
    return paginate(statement.options(joinedload(CommunityComment.author))
                    .order_by(CommunityComment.created_at, CommunityComment.id), page, COMMENTS_PAGE)


def comments_after(post: CommunityPost, *, after: list | None = None, limit: int = COMMENTS_PAGE,
                   staff: bool = False):
    """One keyset page of the post's comments, oldest first (staff also see those taken away)."""
    from babyowl.services.listing import Key, keyset_page

    statement = select(CommunityComment).where(CommunityComment.post_id == post.id)
    if not staff:
        statement = statement.where(CommunityComment.status == "published")
    keys = (Key(CommunityComment.created_at, datetime), Key(CommunityComment.id, uuid.UUID))
    return keyset_page(statement.options(joinedload(CommunityComment.author)), keys, after=after, limit=limit)


def _comment_for(who: Reader, comment_id: uuid.UUID | None, *, lock: bool = False) -> CommunityComment:
    comment = db.session.get(CommunityComment, comment_id, with_for_update=lock) if comment_id else None
    if comment is None or (comment.status != "published" and not who.staff):
        raise NotFound(_("This comment does not exist or was taken away."))
    _post_for(who, comment.post_id)
    return comment


@use_case
def delete_own_comment(author: User, comment_id: uuid.UUID) -> CommunityComment:
    who = reader(author)
    comment = _comment_for(who, comment_id)
    if comment.author_id != author.id:
        raise NotAllowed(_("Only its author can delete a comment."))
    post = _post_for(who, comment.post_id, lock=True)
    _take_away(comment, "deleted", author, None)
    _recount_comments(post)
    _resolve_reports(author, comment_id=comment.id)
    return comment


# --- reports and moderation ---------------------------------------------------------

@use_case
def report(reporter: User, *, reason: str, post_id: uuid.UUID | None = None,
           comment_id: uuid.UUID | None = None) -> None:
    """Report a post or a comment to staff; reporting the same thing again changes nothing."""
    who = reader(reporter)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say briefly what is wrong."))
    if len(reason) > MAX_REASON:
        raise InvalidInput(_("Use at most %(max)d characters.", max=MAX_REASON))
    if comment_id is not None:
        _comment_for(who, comment_id)
        target = {"comment_id": comment_id}
    else:
        _post_for(who, post_id)
        target = {"post_id": post_id}
    db.session.execute(_insert(CommunityReport).values(
        id=uuid.uuid4(), reporter_id=reporter.id, reason=reason, status="open", created_at=utcnow(), **target)
        .on_conflict_do_nothing())


def _resolve_reports(actor: User, *, post_id=None, comment_id=None, status: str = "resolved") -> None:
    column = CommunityReport.post_id if post_id else CommunityReport.comment_id
    db.session.execute(update(CommunityReport).where(column == (post_id or comment_id),
                                                     CommunityReport.status == "open")
                       .values(status=status, resolved_by=actor.id, resolved_at=utcnow()))


def _require_staff(actor: User) -> None:
    if not is_staff(actor):
        raise NotAllowed(_("Only staff moderate the community."))


@dataclass
class Queue:
    post_reports: list
    comment_reports: list
    pending_posts: list


def moderation_queue(actor: User) -> Queue:
    """Open reports with what they are about (the post, the comment and its post, who wrote, who reported)."""
    _require_staff(actor)
    reports = db.session.scalars(
        select(CommunityReport).where(CommunityReport.status == "open")
        .options(joinedload(CommunityReport.reporter),
                 joinedload(CommunityReport.post).joinedload(CommunityPost.author),
                 joinedload(CommunityReport.comment).joinedload(CommunityComment.author),
                 joinedload(CommunityReport.comment).joinedload(CommunityComment.post)
                 .joinedload(CommunityPost.author))
        .order_by(CommunityReport.created_at)).all()
    pending = list(db.session.scalars(_page_options(select(CommunityPost).where(CommunityPost.status == "pending")
                                                    .order_by(CommunityPost.created_at))).unique())
    return Queue([r for r in reports if r.post_id], [r for r in reports if r.comment_id], pending)


MODERATION_ACTIONS = ("approve", "hide", "remove", "dismiss")


def _reason(action: str, reason: str | None) -> str | None:
    reason = (reason or "").strip()
    if action in ("hide", "remove") and not reason:
        raise InvalidInput(_("Give the reason, for the record."))
    if len(reason) > MAX_REASON:
        raise InvalidInput(_("Use at most %(max)d characters.", max=MAX_REASON))
    return reason or None


@use_case
def moderate_post(actor: User, post_id: uuid.UUID, action: str, reason: str | None = None) -> CommunityPost:
    """approve (a pending post), hide or remove (with a reason), or dismiss its reports."""
    _require_staff(actor)
    if action not in MODERATION_ACTIONS:
        raise InvalidInput(_("Choose what to do."))
    reason = _reason(action, reason)
    post = _post_for(reader(actor), post_id, lock=True)
    if action == "approve":
        if post.status != "pending":
            raise PostRefused(_("This post is not waiting for approval."))
        post.status, post.approved_by = "published", actor.id
        _first_post_hook(post.author_id, post.id)
    elif action == "dismiss":
        _resolve_reports(actor, post_id=post.id, status="dismissed")
    else:
        if post.status in ("hidden", "removed", "deleted"):
            raise PostRefused(_("This post was already taken away."))
        _take_away(post, "hidden" if action == "hide" else "removed", actor, reason)
        _forget_notifications_about(post.id)
        _resolve_reports(actor, post_id=post.id)
    return post


@use_case
def moderate_comment(actor: User, comment_id: uuid.UUID, action: str, reason: str | None = None) -> CommunityComment:
    _require_staff(actor)
    if action not in ("hide", "remove", "dismiss"):
        raise InvalidInput(_("Choose what to do."))
    reason = _reason(action, reason)
    who = reader(actor)
    comment = _comment_for(who, comment_id)
    if action == "dismiss":
        _resolve_reports(actor, comment_id=comment.id, status="dismissed")
        return comment
    if comment.status != "published":
        raise PostRefused(_("This comment was already taken away."))
    post = _post_for(who, comment.post_id, lock=True)
    _take_away(comment, "hidden" if action == "hide" else "removed", actor, reason)
    _recount_comments(post)
    db.session.execute(delete(Notification).where(Notification.event_key == f"community-comment:{comment.id}"))
    _resolve_reports(actor, comment_id=comment.id)
    return comment


# --- pictures ------------------------------------------------------------------------

def image_for(user: User, key: str) -> CommunityPostImage:
    image = db.session.scalars(select(CommunityPostImage).where(CommunityPostImage.storage_key == key)
                               .options(joinedload(CommunityPostImage.post))).first()
    if image is None or not may_see(reader(user), image.post):
        raise NotFound(_("This picture does not exist."))
    return image


def post_image(user: User, post_id: uuid.UUID, position: int) -> CommunityPostImage:
    """A picture of a post `user` may read, by its place in the post."""
    post = open_post(user, post_id)
    image = next((image for image in post.images if image.position == position), None)
    if image is None:
        raise NotFound(_("This picture does not exist."))
    return image


def delete_images_after_commit(keys) -> None:
    for key in keys:
        after_commit(delete_stored, key)
