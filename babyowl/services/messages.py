"""Messages between students, instructors and staff, safe for children.

Rules (one `MessagingRules` object per school setting `MESSAGING_POLICY`; the
pages ask it who can be reached, and sending asks it again):

- strict (the default, as Seesaw does with minors): a student may start a
  direct conversation only with the instructors of their active classes and
  with staff; students talk to each other only in their class conversation,
  which always includes the class's instructor. Instructors and staff may
  write to anyone. open: anyone may write to anyone.
- Nobody can message a suspended, inactive or erased person, nor themself.
- Blocking: when either of two people has blocked the other, neither can start
  or continue a direct conversation with the other (class conversations stay).
- A class conversation is created with its class (`classes.create_class`);
  its members follow the class: active students join on enrollment and leave
  on withdrawal, its instructor is a member, staff may join. Someone who left
  no longer reads it.
- Staff and super_admin may read any conversation; every read of a
  conversation they are not a member of is written to
  `conversation_read_audits`, which only super_admin sees.
- Moderators (staff, super_admin) remove a message with a reason ("removed by a
  moderator"); a sender may delete their own message within
  `MESSAGE_DELETE_MINUTES` minutes. Removal is a soft delete: the row keeps
  who and when, the text is no longer shown.
- Read state is one pointer per member (`last_read_message_id`) that only
  moves forward; unread counts and "seen" (direct conversations) derive from
  it. Messages are ordered by (created_at, id) everywhere.
- Text is Markdown sanitised with nh3 (no images from elsewhere); attachments
  are images (re-encoded) or PDFs, checked by their bytes and size-capped.
- The digest: a person with unread messages older than
  `MESSAGE_DIGEST_AFTER_MINUTES` gets one email listing them (never one per
  message), marked per member (`digested_through`) under a row lock, so two
  runs of the job send it once.
"""
from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import nh3
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, func, literal, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from babyowl.authz import STAFF_ROLES, is_staff
from babyowl.exercise_types.richtext import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, render_markdown
from babyowl.extensions import db
from babyowl.models import (
    ClassEnrollment, Conversation, ConversationMember, ConversationReadAudit, Message, MessageAttachment,
    MessageReport, SchoolClass, User, UserBlock,
)
from babyowl.models.base import utcnow
from babyowl.models.messaging import direct_key
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.listing import Key, Slice, keyset_page
from babyowl.transactions import after_commit, use_case

PAGE_SIZE = 30
MAX_TEXT = 5000
ZERO_ID = uuid.UUID(int=0)
MODERATORS = STAFF_ROLES
DIGEST_KIND = "message_digest"


class ConversationNotFound(DomainError):
    status_code = 404


class MessageNotFound(DomainError):
    status_code = 404


class CannotMessage(DomainError):
    """A rule of who may write to whom refused: shown where the person is writing (409)."""


# --- who may write to whom -------------------------------------------------------------------------------------

def can_be_messaged(user: User) -> bool:
    return user.status == "active" and user.erased_at is None


def _reachable_user():
    return and_(User.status == "active", User.erased_at.is_(None))


def _blocked_between(a: uuid.UUID, b: uuid.UUID) -> bool:
    return bool(db.session.scalar(select(func.count()).select_from(UserBlock).where(or_(
        and_(UserBlock.blocker_id == a, UserBlock.blocked_id == b),
        and_(UserBlock.blocker_id == b, UserBlock.blocked_id == a)))))


def _not_blocked_with(user_id: uuid.UUID):
    blocked = select(UserBlock.blocked_id).where(UserBlock.blocker_id == user_id)
    blockers = select(UserBlock.blocker_id).where(UserBlock.blocked_id == user_id)
    return and_(User.id.not_in(blocked), User.id.not_in(blockers))


def _instructors_of(student_id: uuid.UUID):
    return select(SchoolClass.instructor_id).join(ClassEnrollment, ClassEnrollment.class_id == SchoolClass.id).where(
        ClassEnrollment.student_id == student_id, ClassEnrollment.status == "active",
        SchoolClass.instructor_id.is_not(None))


class MessagingRules:
    """Strict: students write only to their own instructors and to staff (the default)."""

    name = "strict"

    def may_start_with(self, sender: User) -> object:
        """A WHERE clause on User: the people `sender` may start a direct conversation with."""
        if sender.role != "student":
            return literal(True)
        return or_(User.role.in_(STAFF_ROLES), User.id.in_(_instructors_of(sender.id)))

    def start_refusal(self, sender: User, recipient: User | None) -> str | None:
        if recipient is None or recipient.id == sender.id:
            return _("Choose someone to write to.")
        if not can_be_messaged(recipient):
            return _("%(name)s cannot get messages.", name=recipient.full_name)
        if _blocked_between(sender.id, recipient.id):
            return _("You cannot write to %(name)s.", name=recipient.full_name)
        if sender.role == "student" and recipient.role == "student" and self.name == "strict":
            return _("Students talk to each other only in their class conversation, where the instructor is "
                     "too.")
        if sender.role == "student" and not db.session.scalar(
                select(func.count()).select_from(User).where(User.id == recipient.id,
                                                             self.may_start_with(sender))):
            return _("You can write to the instructors of your classes and to the school staff.")
        return None

    def reply_refusal(self, sender: User, other: User | None) -> str | None:
        """May `sender` keep writing in an existing direct conversation with `other`?"""
        if other is None or not can_be_messaged(other):
            return _("This person can no longer get messages.")
        if _blocked_between(sender.id, other.id):
            return _("You cannot write in this conversation: one of you has blocked the other.")
        if self.name == "strict" and sender.role == "student" and other.role == "student":
            return _("Students talk to each other only in their class conversation, where the instructor is "
                     "too.")
        return None


class OpenRules(MessagingRules):
    """Open: anyone may write to anyone who can get messages (for schools of adults)."""

    name = "open"

    def may_start_with(self, sender: User) -> object:
        return literal(True)


POLICIES = {"strict": MessagingRules(), "open": OpenRules()}


def rules() -> MessagingRules:
    return POLICIES.get(current_app.config.get("MESSAGING_POLICY", "strict"), POLICIES["strict"])


def reachable(sender: User, query_text: str = "", limit: int = 50) -> list[User]:
    """Who `sender` may start a conversation with (the "new conversation" list), by name."""
    from babyowl.services.listing import text_matches

    statement = (select(User).where(User.id != sender.id, _reachable_user(), _not_blocked_with(sender.id),
                                    rules().may_start_with(sender))
                 .order_by(User.role != "instructor", User.full_name).limit(limit))
    if query_text.strip():
        statement = statement.where(text_matches(query_text, User.full_name, User.email))
    elif sender.role != "student":
        # Staff and instructors may write to the whole school: without a search, their own people first.
        statement = statement.where(or_(User.role != "student", User.id.in_(
            select(ClassEnrollment.student_id).join(SchoolClass, SchoolClass.id == ClassEnrollment.class_id)
            .where(SchoolClass.instructor_id == sender.id, ClassEnrollment.status == "active"))))
    return list(db.session.scalars(statement))


# --- text and files ------------------------------------------------------------------------------------------

def message_html(text: str) -> str:
    """Markdown → HTML sanitised by nh3, without images (a child's message never loads a stranger's picture)."""
    return nh3.clean(render_markdown(text), tags=ALLOWED_TAGS - {"img"},
                     attributes={k: v for k, v in ALLOWED_ATTRIBUTES.items() if k != "img"},
                     link_rel="noopener noreferrer nofollow")


PDF_MAGIC = b"%PDF-"


def _max_attachment_bytes() -> int:
    return current_app.config.get("MESSAGE_ATTACHMENT_MAX_MB", 5) * 1024 * 1024


def _store_attachment(upload, conversation_id: uuid.UUID) -> dict:
    """Check the upload by its bytes and store it: an image re-encoded as JPEG, or a PDF as it is."""
    from PIL import Image

    from babyowl.services.assignments import clean_file_name
    from babyowl.services.images import store_image
    from babyowl.storage import get_storage, new_key

    limit = _max_attachment_bytes()
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(_("The file is larger than %(mb)d MB.", mb=limit // (1024 * 1024)))
    name = clean_file_name(upload.filename)
    prefix = f"messages/{conversation_id.hex}"
    if data.startswith(PDF_MAGIC):
        key = new_key(prefix, ".pdf")
        get_storage().save(key, data, "application/pdf")
        return {"storage_key": key, "file_name": name, "content_type": "application/pdf", "size_bytes": len(data)}
    try:
        Image.open(io.BytesIO(data)).verify()
    except Exception as exc:
        raise InvalidInput(_("Send a picture (JPEG, PNG, GIF, WebP) or a PDF.")) from exc
    key = store_image(io.BytesIO(data), prefix, (1600, 1600))
    size = len(get_storage().read(key)[0])
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return {"storage_key": key, "file_name": f"{stem}.jpg", "content_type": "image/jpeg", "size_bytes": size}


# --- conversations -------------------------------------------------------------------------------------------

def _insert(model):
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def _newest_message_id(conversation_id: uuid.UUID) -> uuid.UUID | None:
    return db.session.scalar(select(Message.id).where(Message.conversation_id == conversation_id)
                             .order_by(Message.created_at.desc(), Message.id.desc()).limit(1))


def _add_member(conversation_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Make `user_id` a (present) member; old messages count as read for a newcomer."""
    now = utcnow()
    newest = _newest_message_id(conversation_id)
    db.session.execute(_insert(ConversationMember).values(
        id=uuid.uuid4(), conversation_id=conversation_id, user_id=user_id, joined_at=now, muted=False,
        last_read_message_id=newest).on_conflict_do_nothing(index_elements=["conversation_id", "user_id"]))
    db.session.execute(update(ConversationMember).where(
        ConversationMember.conversation_id == conversation_id, ConversationMember.user_id == user_id,
        ConversationMember.left_at.is_not(None)).values(left_at=None, joined_at=now, last_read_message_id=newest))


def _class_conversation_id(school_class: SchoolClass) -> uuid.UUID:
    db.session.execute(_insert(Conversation).values(
        id=uuid.uuid4(), kind="class", class_id=school_class.id, created_at=utcnow()
    ).on_conflict_do_nothing(index_elements=["class_id"]))
    return db.session.scalar(select(Conversation.id).where(Conversation.class_id == school_class.id))


def sync_class_conversation(school_class: SchoolClass) -> uuid.UUID:
    """The class's conversation exists and its members are the class's active students and instructor.

    Part of the caller's use case (class created, student enrolled or withdrawn, instructor changed). Staff who
    joined stay; a student who left keeps their row (with `left_at`), so coming back restores it.
    """
    conversation_id = _class_conversation_id(school_class)
    wanted = set(db.session.scalars(select(ClassEnrollment.student_id).where(
        ClassEnrollment.class_id == school_class.id, ClassEnrollment.status == "active")))
    if school_class.instructor_id is not None:
        wanted.add(school_class.instructor_id)
    present = dict(db.session.execute(
        select(ConversationMember.user_id, User.role).join(User, User.id == ConversationMember.user_id)
        .where(ConversationMember.conversation_id == conversation_id, ConversationMember.left_at.is_(None))).all())
    for user_id in wanted - present.keys():
        _add_member(conversation_id, user_id)
    leaving = [user_id for user_id, role in present.items() if user_id not in wanted and role not in STAFF_ROLES]
    if leaving:
        db.session.execute(update(ConversationMember).where(
            ConversationMember.conversation_id == conversation_id, ConversationMember.user_id.in_(leaving))
            .values(left_at=utcnow()))
    return conversation_id


@dataclass
class ConversationView:
    conversation: Conversation
    member: ConversationMember | None  # None: staff reading as a moderator (the read was logged)
    title: str
    other: User | None = None  # the other person of a direct conversation
    other_member: ConversationMember | None = None
    can_write: bool = False
    refusal: str | None = None
    members_count: int = 0

    @property
    def id(self) -> uuid.UUID:
        return self.conversation.id

    @property
    def is_member(self) -> bool:
        return self.member is not None


def _title(conversation: Conversation, other: User | None) -> str:
    if conversation.kind == "class":
        return conversation.school_class.name if conversation.school_class else _("Class conversation")
    return other.full_name if other is not None else _("Erased user")


def _load_conversation(conversation_id: uuid.UUID | None) -> Conversation:
    conversation = db.session.scalar(select(Conversation).where(Conversation.id == conversation_id)
                                     .options(joinedload(Conversation.school_class))) if conversation_id else None
    if conversation is None:
        raise ConversationNotFound(_("This conversation does not exist."))
    return conversation


def _view(actor: User, conversation_id: uuid.UUID | None) -> ConversationView:
    conversation = _load_conversation(conversation_id)
    rows = db.session.scalars(select(ConversationMember).where(ConversationMember.conversation_id == conversation.id)
                              .options(joinedload(ConversationMember.user))).all()
    member = next((m for m in rows if m.user_id == actor.id and m.left_at is None), None)
    if member is None and not is_staff(actor):
        raise ConversationNotFound(_("This conversation does not exist."))
    other_member = next((m for m in rows if m.user_id != actor.id), None) if conversation.kind == "direct" else None
    other = other_member.user if other_member else None
    view = ConversationView(conversation, member, _title(conversation, other), other, other_member,
                            members_count=sum(1 for m in rows if m.left_at is None))
    view.refusal = _write_refusal(actor, view)
    view.can_write = view.refusal is None
    return view


def _write_refusal(actor: User, view: ConversationView) -> str | None:
    if view.conversation.kind == "direct":
        if view.member is None:
            return _("You are reading this conversation as a moderator.")
        return rules().reply_refusal(actor, view.other)
    if view.member is None and not is_staff(actor):
        return _("You are no longer in this class conversation.")
    return None


@use_case
def open_conversation(actor: User, conversation_id: uuid.UUID | None, *, mark_read: bool = True) -> ConversationView:
    """The conversation as `actor` may see it; a member's pointer moves to the newest message (unless the caller
    moves it itself, as the API's clients do), a staff read of someone else's conversation is logged."""
    view = _view(actor, conversation_id)
    if view.member is None:
        db.session.add(ConversationReadAudit(conversation_id=view.id, reader_id=actor.id, read_at=utcnow()))
    elif mark_read:
        newest = _newest_message_id(view.id)
        if newest is not None:
            _move_pointer(view.member, newest)
    return view


def view_for(actor: User, conversation_id: uuid.UUID | None) -> ConversationView:
    """The conversation for a member (or staff) without moving anything (older pages, the composer)."""
    return _view(actor, conversation_id)


@use_case
def start_direct(actor: User, recipient_id: uuid.UUID | None) -> Conversation:
    """The direct conversation of `actor` and the recipient, made if new (one per pair)."""
    recipient = db.session.get(User, recipient_id) if recipient_id else None
    if refusal := rules().start_refusal(actor, recipient):
        raise CannotMessage(refusal)
    key = direct_key(actor.id, recipient.id)
    db.session.execute(_insert(Conversation).values(id=uuid.uuid4(), kind="direct", direct_key=key,
                                                    created_at=utcnow())
                       .on_conflict_do_nothing(index_elements=["direct_key"]))
    conversation = db.session.scalar(select(Conversation).where(Conversation.direct_key == key))
    for user_id in (actor.id, recipient.id):
        _add_member(conversation.id, user_id)
    return conversation


@use_case
def join_class_conversation(actor: User, conversation_id: uuid.UUID | None) -> None:
    """Staff join a class conversation (then they write in it and read it unlogged)."""
    if not is_staff(actor):
        raise NotAllowed(_("Only staff can join a class conversation."))
    conversation = _load_conversation(conversation_id)
    if conversation.kind != "class":
        raise DomainError(_("Only class conversations can be joined."))
    _add_member(conversation.id, actor.id)


def send_message(actor: User, conversation_id: uuid.UUID | None, text: str, upload=None) -> Message:
    """Post a message (and its attachment) in a conversation `actor` may write in: one use case; a file stored
    for a refused message is deleted."""
    from babyowl.services.uploads import use_case_owning_files

    with use_case_owning_files("send_message") as new_files:
        view = _view(actor, conversation_id)
        if not view.can_write:
            raise CannotMessage(view.refusal)
        text = (text or "").strip()
        if len(text) > MAX_TEXT:
            raise InvalidInput(_("A message can be at most %(n)d characters.", n=MAX_TEXT))
        if not text and upload is None:
            raise InvalidInput(_("Write a message or attach a file."))
        if view.member is None:  # staff writing in a class conversation join it
            _add_member(view.id, actor.id)
            view.member = db.session.scalar(select(ConversationMember).where(
                ConversationMember.conversation_id == view.id, ConversationMember.user_id == actor.id))
        now = utcnow()
        message = Message(id=uuid.uuid4(), conversation_id=view.id, sender_id=actor.id, content=text,
                          content_html=message_html(text) if text else "", created_at=now)
        db.session.add(message)
        if upload is not None:
            stored = _store_attachment(upload, view.id)
            new_files.append(stored["storage_key"])
            db.session.add(MessageAttachment(message_id=message.id, **stored))
        db.session.flush()
        db.session.execute(update(Conversation).where(Conversation.id == view.id).values(last_message_at=now))
        _move_pointer(view.member, message.id, message=message)
    return message


# --- reading -------------------------------------------------------------------------------------------------

def _order_key(message_id_column):
    return select(Message.created_at, Message.id).where(Message.id == message_id_column)


_OLDEST_FIRST = (Key(Message.created_at, datetime), Key(Message.id, uuid.UUID))
_NEWEST_FIRST = tuple(Key(key.column, key.kind, descending=True) for key in _OLDEST_FIRST)


def older_messages(conversation_id: uuid.UUID, *, after: list | None = None, before_id: uuid.UUID | None = None,
                   limit: int = PAGE_SIZE) -> Slice:
    """One keyset page of the conversation's messages, newest first: the newest, or those older than the cursor
    `after` (the API's), or than the message `before_id` (the page's "older" link)."""
    statement = (select(Message).where(Message.conversation_id == conversation_id)
                 .options(joinedload(Message.sender), selectinload(Message.attachments)))
    return keyset_page(statement, _NEWEST_FIRST, after=after, after_id=before_id, limit=limit)


def messages_page(conversation_id: uuid.UUID, before: uuid.UUID | None = None,
                  limit: int = PAGE_SIZE) -> tuple[list[Message], bool]:
    """Up to `limit` messages before the message `before` (or the newest), oldest first; and whether older ones
    exist."""
    page = older_messages(conversation_id, before_id=before, limit=limit)
    return list(reversed(page.items)), page.has_more


def new_messages(actor: User, conversation_id: uuid.UUID | None, after: uuid.UUID | None) -> list[Message]:
    """Messages newer than `after` for the poll: one indexed query, which also checks that `actor` is a member.

    Not a member (or no such conversation): nothing, as for a conversation with nothing new.
    """
    if conversation_id is None:
        return []
    is_member = select(ConversationMember.id).where(
        ConversationMember.conversation_id == conversation_id, ConversationMember.user_id == actor.id,
        ConversationMember.left_at.is_(None)).exists()
    return _messages_after(conversation_id, after, 200, is_member).items


def messages_after(view: ConversationView, after: uuid.UUID | None, limit: int) -> Slice:
    """Up to `limit` messages newer than `after`, oldest first, in a conversation `view` says its reader may read
    (a member, or staff as a moderator: polling from the API, which checked the reader with `view_for`)."""
    return _messages_after(view.id, after, limit)


def _messages_after(conversation_id: uuid.UUID, after: uuid.UUID | None, limit: int, *where) -> Slice:
    statement = (select(Message).where(Message.conversation_id == conversation_id, *where)
                 .options(joinedload(Message.sender)))
    page = keyset_page(statement, _OLDEST_FIRST, after_id=after, limit=limit)
    if page.items:
        _load_attachments(page.items)
    return page


def _load_attachments(rows: list[Message]) -> None:
    # Only when there are new messages: a quiet poll stays one query.
    ids = [m.id for m in rows]
    found: dict[uuid.UUID, list[MessageAttachment]] = {i: [] for i in ids}
    for attachment in db.session.scalars(select(MessageAttachment).where(MessageAttachment.message_id.in_(ids))
                                         .order_by(MessageAttachment.created_at)):
        found[attachment.message_id].append(attachment)
    for message in rows:
        set_committed_value(message, "attachments", found[message.id])


def _pointer_key(member: ConversationMember) -> tuple[datetime, uuid.UUID] | None:
    if member.last_read_message_id is None:
        return None
    return db.session.execute(_order_key(member.last_read_message_id)).one_or_none()


def _move_pointer(member: ConversationMember, message_id: uuid.UUID, message: Message | None = None) -> bool:
    """Forward only, compared under the member row's lock: an older tab can never un-read newer messages."""
    locked = db.session.scalar(select(ConversationMember).where(ConversationMember.id == member.id)
                               .with_for_update().execution_options(populate_existing=True))
    target = (message.created_at, message.id) if message is not None else db.session.execute(
        _order_key(message_id).where(Message.conversation_id == locked.conversation_id)).one_or_none()
    if target is None:
        return False
    current = _pointer_key(locked)
    if current is not None and tuple(target) <= tuple(current):
        return False
    locked.last_read_message_id = message_id
    return True


@use_case
def mark_read(actor: User, conversation_id: uuid.UUID | None, message_id: uuid.UUID | None) -> bool:
    """Move `actor`'s read pointer to `message_id` if that is further on; True when it moved."""
    member = db.session.scalar(select(ConversationMember).where(
        ConversationMember.conversation_id == conversation_id, ConversationMember.user_id == actor.id,
        ConversationMember.left_at.is_(None))) if conversation_id else None
    if member is None:
        raise ConversationNotFound(_("This conversation does not exist."))
    if message_id is None:
        raise InvalidInput(_("Unknown message."))
    return _move_pointer(member, message_id)


def _unread_condition(user_id: uuid.UUID):
    """Joins and filters of "messages unread by `user_id`" (members `cm`, messages `m`, pointers `r`)."""
    cm, m, r = aliased(ConversationMember), aliased(Message), aliased(Message)
    floor = tuple_(func.coalesce(r.created_at, cm.joined_at), func.coalesce(r.id, literal(ZERO_ID, type_=r.id.type)))
    statement = (select(cm, m, r)
                 .join(m, m.conversation_id == cm.conversation_id)
                 .outerjoin(r, r.id == cm.last_read_message_id)
                 .where(cm.user_id == user_id, cm.left_at.is_(None), m.deleted_at.is_(None),
                        or_(m.sender_id.is_(None), m.sender_id != user_id),
                        tuple_(m.created_at, m.id) > floor))
    return cm, m, statement


def unread_counts(user: User, conversation_ids: list[uuid.UUID] | None = None) -> dict[uuid.UUID, int]:
    """Unread messages per conversation (all of `user`'s, or these): one query, each member's range read from its
    pointer on."""
    cm, m, base = _unread_condition(user.id)
    statement = base.with_only_columns(cm.conversation_id, func.count(m.id)).group_by(cm.conversation_id)
    if conversation_ids is not None:
        statement = statement.where(cm.conversation_id.in_(conversation_ids))
    return dict(db.session.execute(statement).all())


def unread_total_statement(user_id):
    """The header badge's number: unread messages in the conversations `user_id` has not muted."""
    cm, m, base = _unread_condition(user_id)
    return base.with_only_columns(func.count(m.id)).where(cm.muted.is_(False))


def unread_total(user: User) -> int:
    return db.session.scalar(unread_total_statement(user.id)) or 0


def is_seen(view: ConversationView, last: Message | None) -> bool:
    """Whether the other person of a direct conversation has read `last`, when it is the viewer's own message."""
    if (last is None or view.member is None or last.sender_id != view.member.user_id or view.other_member is None
            or view.other_member.left_at is not None):
        return False
    pointer = _pointer_key(view.other_member)
    return pointer is not None and tuple(pointer) >= (last.created_at, last.id)


@dataclass
class ConversationRow:
    conversation: Conversation
    title: str
    unread: int
    muted: bool
    kind: str
    other: User | None = None


def my_conversations(user: User) -> list[ConversationRow]:
    """`user`'s conversations, newest activity first, with unread counts: three queries however many."""
    members = db.session.scalars(
        select(ConversationMember).where(ConversationMember.user_id == user.id, ConversationMember.left_at.is_(None))
        .options(joinedload(ConversationMember.conversation).joinedload(Conversation.school_class))).all()
    rows = _conversation_rows(user, members, unread_counts(user))
    epoch = datetime.min.replace(tzinfo=utcnow().tzinfo)
    rows.sort(key=lambda row: (row.conversation.last_message_at or row.conversation.created_at or epoch),
              reverse=True)
    return rows


def _activity():
    return func.coalesce(Conversation.last_message_at, Conversation.created_at)


def conversations_page(user: User, *, after: list | None = None, limit: int = 20) -> Slice:
    """One keyset page of `user`'s conversations (ConversationRow), newest activity first. Three queries whatever
    the page or the number of messages."""
    statement = (select(ConversationMember).join(ConversationMember.conversation)
                 .where(ConversationMember.user_id == user.id, ConversationMember.left_at.is_(None))
                 .options(joinedload(ConversationMember.conversation).joinedload(Conversation.school_class)))
    keys = (Key(_activity(), datetime, descending=True), Key(Conversation.id, uuid.UUID, descending=True))
    page = keyset_page(statement, keys, after=after, limit=limit)
    counts = unread_counts(user, [m.conversation_id for m in page.items]) if page.items else {}
    return Slice(_conversation_rows(user, page.items, counts), page.has_more, page.last, limit)


def _conversation_rows(user: User, members, counts: dict[uuid.UUID, int]) -> list[ConversationRow]:
    conversation_ids = [m.conversation_id for m in members]
    others: dict[uuid.UUID, User] = {}
    if conversation_ids:
        for other in db.session.execute(
                select(ConversationMember.conversation_id, User).join(User, User.id == ConversationMember.user_id)
                .join(Conversation, Conversation.id == ConversationMember.conversation_id)
                .where(ConversationMember.conversation_id.in_(conversation_ids),
                       ConversationMember.user_id != user.id, Conversation.kind == "direct")).all():
            others[other[0]] = other[1]
    return [ConversationRow(m.conversation, _title(m.conversation, others.get(m.conversation_id)),
                            counts.get(m.conversation_id, 0), m.muted, m.conversation.kind,
                            others.get(m.conversation_id)) for m in members]


@use_case
def set_muted(actor: User, conversation_id: uuid.UUID | None, muted: bool) -> None:
    result = db.session.execute(update(ConversationMember).where(
        ConversationMember.conversation_id == conversation_id, ConversationMember.user_id == actor.id,
        ConversationMember.left_at.is_(None)).values(muted=muted))
    if not result.rowcount:
        raise ConversationNotFound(_("This conversation does not exist."))


# --- deleting, reporting, blocking ---------------------------------------------------------------------------

def message_for(actor: User, message_id: uuid.UUID | None) -> Message:
    """The message if `actor` may read its conversation (a member, or staff); else not found."""
    message = db.session.get(Message, message_id) if message_id else None
    if message is None:
        raise MessageNotFound(_("This message does not exist."))
    _view(actor, message.conversation_id)  # not a member and not staff: not found
    return message


def delete_window() -> timedelta:
    return timedelta(minutes=current_app.config.get("MESSAGE_DELETE_MINUTES", 5))


def can_delete_own(actor: User, message: Message) -> bool:
    return (message.sender_id == actor.id and message.deleted_at is None
            and utcnow() - message.created_at <= delete_window())


def can_moderate(actor: User) -> bool:
    return getattr(actor, "role", None) in MODERATORS


def _forget_files_of(message: Message) -> None:
    from babyowl.services.images import delete_stored

    keys = [a.storage_key for a in message.attachments]
    for attachment in list(message.attachments):
        db.session.delete(attachment)
    for key in keys:
        after_commit(delete_stored, key)


@use_case
def delete_own_message(actor: User, message_id: uuid.UUID | None) -> Message:
    """A sender takes back their message within the delete window."""
    message = message_for(actor, message_id)
    if message.sender_id != actor.id:
        raise NotAllowed(_("You can only delete your own messages."))
    if message.deleted_at is not None:
        raise DomainError(_("This message is already deleted."))
    if not can_delete_own(actor, message):
        raise DomainError(_("A message can only be deleted in the first %(n)d minutes.",
                            n=int(delete_window().total_seconds() // 60)))
    message.deleted_at, message.deleted_by = utcnow(), actor.id
    _forget_files_of(message)
    return message


@use_case
def remove_message(actor: User, message_id: uuid.UUID | None, reason: str) -> Message:
    """A moderator removes a message: who, when and why are kept; its reports are resolved."""
    if not can_moderate(actor):
        raise NotAllowed(_("Only staff can remove messages."))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say why the message is removed."))
    message = message_for(actor, message_id)
    if message.deleted_at is not None:
        raise DomainError(_("This message is already removed."))
    now = utcnow()
    message.deleted_at, message.deleted_by, message.deletion_reason = now, actor.id, reason[:1000]
    _forget_files_of(message)
    db.session.execute(update(MessageReport).where(MessageReport.message_id == message.id,
                                                   MessageReport.status == "open")
                       .values(status="resolved", resolved_by=actor.id, resolved_at=now))
    return message


@use_case
def report_message(actor: User, message_id: uuid.UUID | None, reason: str) -> MessageReport | None:
    """A member reports a message to staff; reporting the same message twice changes nothing."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Say what is wrong with this message."))
    message = message_for(actor, message_id)
    if message.sender_id == actor.id:
        raise DomainError(_("You cannot report your own message."))
    db.session.execute(_insert(MessageReport).values(
        id=uuid.uuid4(), message_id=message.id, reporter_id=actor.id, reason=reason[:1000], status="open",
        created_at=utcnow()).on_conflict_do_nothing(index_elements=["message_id", "reporter_id"]))
    return db.session.scalar(select(MessageReport).where(MessageReport.message_id == message.id,
                                                         MessageReport.reporter_id == actor.id))


@dataclass
class ReportInContext:
    report: MessageReport
    before: list[Message] = field(default_factory=list)  # the messages just before it, for context


def open_reports(actor: User) -> list[ReportInContext]:
    """The staff queue: open reports, oldest first, each with the reported message and the two before it."""
    if not can_moderate(actor):
        raise NotAllowed(_("Only staff see reported messages."))
    reports = db.session.scalars(
        select(MessageReport).where(MessageReport.status == "open")
        .options(joinedload(MessageReport.reporter), joinedload(MessageReport.message).joinedload(Message.sender),
                 joinedload(MessageReport.message).joinedload(Message.conversation)
                 .joinedload(Conversation.school_class))
        .order_by(MessageReport.created_at).limit(100)).all()
    listed = []
    for report in reports:
        before, _more = messages_page(report.message.conversation_id, before=report.message_id, limit=2)
        listed.append(ReportInContext(report, before))
    return listed


@use_case
def resolve_report(actor: User, report_id: uuid.UUID | None) -> None:
    if not can_moderate(actor):
        raise NotAllowed(_("Only staff handle reported messages."))
    report = db.session.get(MessageReport, report_id) if report_id else None
    if report is None:
        raise MessageNotFound(_("This report does not exist."))
    if report.status == "open":
        report.status, report.resolved_by, report.resolved_at = "resolved", actor.id, utcnow()


@use_case
def block(actor: User, user_id: uuid.UUID | None) -> User:
    """`actor` no longer gets direct messages from this person, nor writes to them."""
    other = db.session.get(User, user_id) if user_id else None
    if other is None or other.id == actor.id:
        raise InvalidInput(_("Choose someone to block."))
    db.session.execute(_insert(UserBlock).values(id=uuid.uuid4(), blocker_id=actor.id, blocked_id=other.id,
                                                 created_at=utcnow())
                       .on_conflict_do_nothing(index_elements=["blocker_id", "blocked_id"]))
    return other


@use_case
def unblock(actor: User, user_id: uuid.UUID | None) -> None:
    from sqlalchemy import delete

    db.session.execute(delete(UserBlock).where(UserBlock.blocker_id == actor.id, UserBlock.blocked_id == user_id))


def has_blocked(actor: User, other: User | None) -> bool:
    return other is not None and bool(db.session.scalar(select(func.count()).select_from(UserBlock).where(
        UserBlock.blocker_id == actor.id, UserBlock.blocked_id == other.id)))


# --- staff views ---------------------------------------------------------------------------------------------

def all_conversations(actor: User, page: int):
    """Every conversation for staff (newest activity first), 20 a page."""
    from babyowl.services.listing import paginate

    if not is_staff(actor):
        raise NotAllowed(_("Only staff can read every conversation."))
    return paginate(select(Conversation).options(joinedload(Conversation.school_class))
                    .order_by(Conversation.last_message_at.desc().nulls_last(), Conversation.id), page)


def member_names(conversation_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    names: dict[uuid.UUID, list[str]] = {i: [] for i in conversation_ids}
    if conversation_ids:
        for conversation_id, name in db.session.execute(
                select(ConversationMember.conversation_id, User.full_name)
                .join(User, User.id == ConversationMember.user_id)
                .where(ConversationMember.conversation_id.in_(conversation_ids), ConversationMember.left_at.is_(None))
                .order_by(User.full_name)):
            names[conversation_id].append(name)
    return names


def read_audits(actor: User, page: int):
    """Who read which conversation as staff, newest first: super_admin only."""
    from babyowl.services.listing import paginate

    if actor.role != "super_admin":
        raise NotAllowed(_("Only a super admin sees who read which conversation."))
    return paginate(select(ConversationReadAudit).options(
        joinedload(ConversationReadAudit.reader),
        joinedload(ConversationReadAudit.conversation).joinedload(Conversation.school_class))
        .order_by(ConversationReadAudit.read_at.desc(), ConversationReadAudit.id), page)


def attachment_for(actor: User, attachment_id: uuid.UUID | None) -> MessageAttachment:
    """The attachment if `actor` is a member of its conversation (or staff); else not found."""
    attachment = db.session.get(MessageAttachment, attachment_id) if attachment_id else None
    if attachment is None or attachment.message.deleted_at is not None:
        raise MessageNotFound(_("This file does not exist."))
    conversation_id = attachment.message.conversation_id
    if not is_staff(actor) and not db.session.scalar(select(func.count()).select_from(ConversationMember).where(
            ConversationMember.conversation_id == conversation_id, ConversationMember.user_id == actor.id,
            ConversationMember.left_at.is_(None))):
        raise MessageNotFound(_("This file does not exist."))
    return attachment


# --- the demo school (no rules to ask: the seed writes what the rules would allow) --------------------------

def demo_direct_conversation(a: User, b: User) -> uuid.UUID:
    key = direct_key(a.id, b.id)
    db.session.execute(_insert(Conversation).values(id=uuid.uuid4(), kind="direct", direct_key=key,
                                                    created_at=utcnow())
                       .on_conflict_do_nothing(index_elements=["direct_key"]))
    conversation_id = db.session.scalar(select(Conversation.id).where(Conversation.direct_key == key))
    for user in (a, b):
        _add_member(conversation_id, user.id)
    return conversation_id


def demo_message(conversation_id: uuid.UUID, sender: User, text: str, when: datetime) -> None:
    message = Message(id=uuid.uuid4(), conversation_id=conversation_id, sender_id=sender.id, content=text,
                      content_html=message_html(text), created_at=when)
    db.session.add(message)
    db.session.flush()
    db.session.execute(update(Conversation).where(Conversation.id == conversation_id).values(last_message_at=when))
    # The members were there before the message (so it is unread for the others); the sender has read it.
    db.session.execute(update(ConversationMember).where(
        ConversationMember.conversation_id == conversation_id, ConversationMember.joined_at > when)
        .values(joined_at=when - timedelta(minutes=1)))
    db.session.execute(update(ConversationMember).where(
        ConversationMember.conversation_id == conversation_id, ConversationMember.user_id == sender.id)
        .values(last_read_message_id=message.id))


# --- the digest email ----------------------------------------------------------------------------------------

def digest_after() -> timedelta:
    return timedelta(minutes=current_app.config.get("MESSAGE_DIGEST_AFTER_MINUTES", 15))


def _due_condition(user_id, now: datetime):
    cm, m, base = _unread_condition(user_id)
    return cm, m, base.where(cm.muted.is_(False), m.created_at <= now - digest_after(),
                             m.created_at > func.coalesce(cm.digested_through, cm.joined_at))


def people_due_a_digest(now: datetime | None = None) -> list[uuid.UUID]:
    """Who has unread messages older than the digest delay that no digest told them about yet."""
    now = now or utcnow()
    cm, m, r = aliased(ConversationMember), aliased(Message), aliased(Message)
    floor = tuple_(func.coalesce(r.created_at, cm.joined_at), func.coalesce(r.id, literal(ZERO_ID, type_=r.id.type)))
    statement = (select(cm.user_id).distinct()
                 .join(m, m.conversation_id == cm.conversation_id)
                 .outerjoin(r, r.id == cm.last_read_message_id)
                 .join(User, User.id == cm.user_id)
                 .where(cm.left_at.is_(None), cm.muted.is_(False), m.deleted_at.is_(None),
                        or_(m.sender_id.is_(None), m.sender_id != cm.user_id),
                        tuple_(m.created_at, m.id) > floor,
                        m.created_at <= now - digest_after(),
                        m.created_at > func.coalesce(cm.digested_through, cm.joined_at),
                        User.status == "active", User.erased_at.is_(None)))
    return list(db.session.scalars(statement))


@use_case
def send_digest(user_id: uuid.UUID, now: datetime | None = None) -> bool:
    """One email to this person about their unread messages; True when one was written to the outbox.

    The person's member rows are locked first: a second run of the job waits, then finds them digested.
    """
    from babyowl import emails
    from babyowl.services.notifications import language_of, wants_email

    now = now or utcnow()
    user = db.session.get(User, user_id)
    if user is None or not can_be_messaged(user):
        return False
    db.session.scalars(select(ConversationMember).where(ConversationMember.user_id == user_id)
                       .with_for_update().execution_options(populate_existing=True)).all()
    cm, m, base = _due_condition(user_id, now)
    due = db.session.execute(base.with_only_columns(cm.id, cm.conversation_id, func.count(m.id),
                                                    func.max(m.created_at))
                             .group_by(cm.id, cm.conversation_id)).all()
    if not due:
        return False
    for member_id, _conversation_id, _count, newest in due:
        db.session.execute(update(ConversationMember).where(ConversationMember.id == member_id)
                           .values(digested_through=newest))
    if not wants_email(user.id, DIGEST_KIND):
        return False
    titles = {row.conversation.id: row.title for row in my_conversations(user)}
    lines = [(titles.get(conversation_id, ""), count) for _member, conversation_id, count, _newest in due]
    emails.send(emails_message_digest(user, lines, language_of(user)), user_id=user.id)
    return True


def emails_message_digest(user: User, lines: list[tuple[str, int]], language: str):
    from babyowl import emails
    from babyowl.services.notifications import external_url, unsubscribe_token

    return emails.message_digest(
        to=user.email, name=user.full_name, conversations=lines, link=external_url("messages.index"),
        unsubscribe_url=external_url("notifications.unsubscribe", token=unsubscribe_token(user, DIGEST_KIND)),
        language=language)
