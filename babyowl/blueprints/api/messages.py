"""Messages in the JSON API: conversations, messages (newest first by cursor, `after` for polling), read pointers,
blocking, reports and moderation. Every rule is `services/messages.py`'s, asked exactly as the pages ask it.

Reading a conversation's first page is "opening" it, as the page does: a staff read of a conversation they are
not a member of is logged (older pages and polls are not, as on the page). Unlike the page, reading never moves
the read pointer: an app says what the person saw with POST .../read.
"""
from __future__ import annotations

import uuid

from flask import request

from babyowl.authz import STAFF_ROLES
from babyowl.blueprints.params import uploaded_file
from babyowl.blueprints.api import schemas_messages as s
from babyowl.blueprints.api.core import (
    STORED_FILE_ELSEWHERE, answers_file, api_user, authenticated, decode_cursor, form_body, json_body, keyset_meta,
    ok, responses, spec, stored_file,
)
from babyowl.blueprints.api.schemas import UnreadOut
from babyowl.blueprints.api.views import bp
from babyowl.services import messages

TAGS = ["messages"]


def _conversation_out(row: messages.ConversationRow) -> s.ConversationOut:
    conversation = row.conversation
    return s.ConversationOut(id=conversation.id, kind=row.kind, title=row.title, class_id=conversation.class_id,
                             other_user_id=row.other.id if row.other else None, unread=row.unread, muted=row.muted,
                             last_message_at=conversation.last_message_at)


def _detail_out(view: messages.ConversationView) -> s.ConversationDetailOut:
    conversation = view.conversation
    return s.ConversationDetailOut(id=view.id, kind=conversation.kind, title=view.title,
                                   class_id=conversation.class_id, other_user_id=view.other.id if view.other else None,
                                   members_count=view.members_count, is_member=view.is_member,
                                   can_write=view.can_write, refusal=view.refusal)


def _message_out(message, moderator: bool) -> s.MessageOut:
    gone = message.deleted_at is not None
    return s.MessageOut(
        id=message.id, conversation_id=message.conversation_id, sender_id=message.sender_id,
        sender_name=message.sender.full_name if message.sender else None,
        content=None if gone else message.content, content_html=None if gone else message.content_html,
        created_at=message.created_at, deleted=gone, removed_by_moderator=message.removed_by_moderator,
        deletion_reason=message.deletion_reason if moderator else None,
        attachments=[] if gone else [s.AttachmentOut.model_validate(a) for a in message.attachments])


@bp.get("/conversations")
@authenticated()
@spec.validate(query=s.PageQuery, resp=responses(s.ConversationOut, many=True), tags=TAGS)
def list_conversations():
    """My conversations, newest activity first, each with its unread count (from my read pointer)."""
    query = request.context.query
    page = messages.conversations_page(api_user(), after=decode_cursor(query.cursor), limit=query.limit)
    return ok([_conversation_out(row) for row in page.items], **keyset_meta(page))


@bp.post("/conversations")
@authenticated()
@spec.validate(json=s.StartConversationIn, resp=responses(s.ConversationDetailOut, 201), tags=TAGS)
def start_conversation():
    """A direct conversation with someone the school's rules let me write to (one per pair: asked again, the same
    conversation comes back). A student may write only to the instructors of their classes and to staff."""
    conversation = messages.start_direct(api_user(), json_body().user_id)
    return ok(_detail_out(messages.view_for(api_user(), conversation.id)), 201)


@bp.get("/conversations/<uuid:conversation_id>")
@authenticated()
@spec.validate(resp=responses(s.ConversationDetailOut), tags=TAGS)
def get_conversation(conversation_id: uuid.UUID):
    return ok(_detail_out(messages.view_for(api_user(), conversation_id)))


@bp.get("/conversations/<uuid:conversation_id>/messages")
@authenticated()
@spec.validate(query=s.MessagesQuery, resp=responses(s.MessageOut, many=True), tags=TAGS)
def conversation_messages(conversation_id: uuid.UUID):
    """Newest first, older pages by `cursor`; or, with `after`, the newer messages oldest first (polling)."""
    query: s.MessagesQuery = request.context.query
    actor = api_user()
    moderator = messages.can_moderate(actor)
    if query.after is not None:
        page = messages.messages_after(messages.view_for(actor, conversation_id), query.after, query.limit)
        return ok([_message_out(m, moderator) for m in page.items], has_more=page.has_more, limit=query.limit)
    after = decode_cursor(query.cursor)
    if after is None:
        view = messages.open_conversation(actor, conversation_id, mark_read=False)  # a staff read is logged
    else:
        view = messages.view_for(actor, conversation_id)
    page = messages.older_messages(view.id, after=after, limit=query.limit)
    return ok([_message_out(m, moderator) for m in page.items], **keyset_meta(page))


@bp.post("/conversations/<uuid:conversation_id>/messages")
@authenticated()
@spec.validate(json=s.SendMessageIn, resp=responses(s.MessageOut, 201), tags=TAGS)
def send_message(conversation_id: uuid.UUID):
    message = messages.send_message(api_user(), conversation_id, json_body().text)
    return ok(_message_out(message, messages.can_moderate(api_user())), 201)


@bp.post("/conversations/<uuid:conversation_id>/messages/files")
@authenticated()
@spec.validate(form=s.SendFileForm, resp=responses(s.MessageOut, 201), tags=TAGS)
def send_message_with_file(conversation_id: uuid.UUID):
    """A message with a picture or a PDF: multipart/form-data with the `file` and, if wanted, `text`."""
    form: s.SendFileForm = form_body()
    message = messages.send_message(api_user(), conversation_id, form.text or "",
                                    uploaded_file(request.files.get("file")))
    return ok(_message_out(message, messages.can_moderate(api_user())), 201)


@bp.post("/conversations/<uuid:conversation_id>/read")
@authenticated()
@spec.validate(json=s.MarkReadIn, resp=responses(s.MarkReadOut), tags=TAGS)
def mark_conversation_read(conversation_id: uuid.UUID):
    """Move my read pointer to this message (forward only: an older one changes nothing)."""
    moved = messages.mark_read(api_user(), conversation_id, json_body().message_id)
    unread = messages.unread_counts(api_user(), [conversation_id]).get(conversation_id, 0)
    return ok(s.MarkReadOut(moved=moved, unread=unread))


@bp.get("/messages/unread-count")
@authenticated()
@spec.validate(resp=responses(UnreadOut), tags=TAGS)
def unread_messages():
    """Unread messages in the conversations I have not muted (the number on the page's header badge)."""
    return ok(UnreadOut(unread=messages.unread_total(api_user())))


@bp.get("/messages/people")
@authenticated()
@spec.validate(query=s.PeopleQuery, resp=responses(s.PersonOut, many=True), tags=TAGS)
def message_recipients():
    """Whom I may start a conversation with, by name (a search, not a list to page through)."""
    query: s.PeopleQuery = request.context.query
    people = messages.reachable(api_user(), query.q, limit=query.limit)
    return ok([s.PersonOut.model_validate(person) for person in people], limit=query.limit)


@bp.get("/messages/files/<uuid:attachment_id>")
@answers_file("image/jpeg", "application/pdf")
@authenticated()
@spec.validate(resp=responses(None, extra=STORED_FILE_ELSEWHERE), tags=TAGS)
def message_file(attachment_id: uuid.UUID):
    """A message's picture or PDF, for the members of its conversation and staff."""
    found = messages.attachment_for(api_user(), attachment_id)
    return stored_file(found.storage_key, download_name=None if found.is_image else found.file_name,
                       cache_control="private, no-store")


@bp.delete("/messages/<uuid:message_id>")
@authenticated()
@spec.validate(resp=responses(s.MessageOut), tags=TAGS)
def delete_message(message_id: uuid.UUID):
    """Take back my own message within the school's delete window."""
    message = messages.delete_own_message(api_user(), message_id)
    return ok(_message_out(message, messages.can_moderate(api_user())))


@bp.post("/messages/<uuid:message_id>/report")
@authenticated()
@spec.validate(json=s.ReasonIn, resp=responses(s.MessageReportOut, 201), tags=TAGS)
def report_message(message_id: uuid.UUID):
    """Tell staff about a message (reporting it again changes nothing)."""
    report = messages.report_message(api_user(), message_id, json_body().reason)
    return ok(s.MessageReportOut.model_validate(report), 201)


@bp.post("/messages/<uuid:message_id>/remove")
@authenticated(*STAFF_ROLES)
@spec.validate(json=s.ReasonIn, resp=responses(s.MessageOut), tags=TAGS)
def remove_message(message_id: uuid.UUID):
    """A moderator removes a message with the reason (who, when and why are kept; its reports are closed)."""
    message = messages.remove_message(api_user(), message_id, json_body().reason)
    return ok(_message_out(message, True))


@bp.put("/messages/blocks/<uuid:user_id>")
@authenticated()
@spec.validate(resp=responses(s.BlockOut), tags=TAGS)
def block_user(user_id: uuid.UUID):
    """Neither of us can start or continue a direct conversation with the other (class conversations stay)."""
    other = messages.block(api_user(), user_id)
    return ok(s.BlockOut(user_id=other.id, blocked=True))


@bp.delete("/messages/blocks/<uuid:user_id>")
@authenticated()
@spec.validate(resp=responses(s.BlockOut), tags=TAGS)
def unblock_user(user_id: uuid.UUID):
    messages.unblock(api_user(), user_id)
    return ok(s.BlockOut(user_id=user_id, blocked=False))

