"""Messages: the conversation list, a conversation (paging, polling, the composer), moderation and audit.

Every rule (who may write to whom, who may read, blocking, the delete window)
is asked of `services/messages.py`; these views parse, call one service and
render a page or one block of it.
"""
from __future__ import annotations

import uuid

from flask import Blueprint, flash, make_response, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from babyowl.authz import STAFF_ROLES, roles_required
from babyowl.blueprints.params import page_number, parse_uuid, uploaded_file
from babyowl.errors import on_refusal
from babyowl.extensions import limiter
from babyowl.rendering import is_htmx, redirect_to, render
from babyowl.services import messages
from babyowl.storage import serve_file

bp = Blueprint("messages", __name__)

# The header badge listens for this event; every view that changes what is unread sends it.
CHANGED_EVENT = "messages-changed"


def _changed(response):
    response.headers["HX-Trigger"] = CHANGED_EVENT
    return response


def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.app_context_processor
def messaging_helpers():
    return {"messages_can_delete_own": messages.can_delete_own, "messages_can_moderate": messages.can_moderate}


# --- the list ------------------------------------------------------------------------------------------------

def _index_page(error=None, status=200, block=None):
    query_text = request.args.get("q", "")
    return render("messages/index.html", block=block, status=status, rows=messages.my_conversations(current_user),
                  people=messages.reachable(current_user, query_text), q=query_text, error=error,
                  policy=messages.rules().name)


@bp.route("/messages")
@login_required
def index():
    return _no_store(_index_page(block="people" if request.args.get("q") is not None else None))


@bp.route("/messages/badge")
@login_required
@limiter.exempt  # asked by a timer on every page (one indexed query): never the reason a person is slowed down
def badge():
    return _no_store(render("messages/_badge.html", unread=messages.unread_total(current_user)))


@bp.route("/messages/new", methods=["POST"])
@login_required
def start():
    with on_refusal(lambda refused: _index_page(error=refused.message, status=refused.status_code,
                                                block="people"),
                    redirect_to_url=url_for("messages.index")):
        conversation = messages.start_direct(current_user, parse_uuid(request.form.get("user_id")))
    return redirect_to(url_for("messages.show", conversation_id=conversation.id))


# --- one conversation ----------------------------------------------------------------------------------------

def _conversation_page(view, *, block=None, status=200, error=None, text=""):
    before = parse_uuid(request.args.get("before"))
    rows, has_older = messages.messages_page(view.id, before=before)
    return render("messages/show.html", block=block, status=status, view=view, rows=rows, has_older=has_older,
                  seen=messages.is_seen(view, rows[-1] if rows else None), error=error, text=text,
                  conversation_id=view.id,
                  blocked=messages.has_blocked(current_user, view.other),
                  poll_seconds=_poll_seconds(), live=before is None,
                  last_id=rows[-1].id if rows and before is None else None)


def _poll_seconds():
    from flask import current_app

    return current_app.config.get("MESSAGE_POLL_SECONDS", 3)


@bp.route("/messages/<uuid:conversation_id>")
@login_required
def show(conversation_id: uuid.UUID):
    if request.args.get("before") and is_htmx():
        # An older page, loaded on scroll: read only (the pointer and the audit were done on opening).
        return _conversation_page(messages.view_for(current_user, conversation_id), block="older")
    view = messages.open_conversation(current_user, conversation_id)
    return _no_store(_conversation_page(view))


@bp.route("/messages/<uuid:conversation_id>/new")
@login_required
@limiter.exempt  # every 3 s while a conversation is open (one indexed query), in every open tab
def poll(conversation_id: uuid.UUID):
    """The messages after `after`: one indexed query; 204 when there is nothing new."""
    after = parse_uuid(request.args.get("after"))
    rows = messages.new_messages(current_user, conversation_id, after)
    if not rows:
        return _no_store(make_response("", 204))
    return _no_store(render("messages/show.html", block="new_messages", rows=rows, conversation_id=conversation_id,
                            poll_seconds=_poll_seconds(), last_id=rows[-1].id, view=None, mark_read=True))



@bp.route("/messages/<uuid:conversation_id>", methods=["POST"])
@login_required
def send(conversation_id: uuid.UUID):
    text = request.form.get("text", "")
    after = parse_uuid(request.form.get("after"))

    def refused_page(refused):
        view = messages.view_for(current_user, conversation_id)
        return _conversation_page(view, block="composer", status=refused.status_code, error=refused.message,
                                  text=text)

    with on_refusal(refused_page, redirect_to_url=url_for("messages.show", conversation_id=conversation_id)):
        messages.send_message(current_user, conversation_id, text, uploaded_file(request.files.get("file")))
    if is_htmx():
        # What is new since the page's last message (this one included), the poller moved on, an empty composer.
        rows = messages.new_messages(current_user, conversation_id, after)
        return _changed(render("messages/show.html", block="sent", rows=rows, conversation_id=conversation_id,
                               poll_seconds=_poll_seconds(), last_id=rows[-1].id if rows else after,
                               text="", error=None, oob_poller=True))
    return redirect_to(url_for("messages.show", conversation_id=conversation_id))


@bp.route("/messages/<uuid:conversation_id>/read", methods=["POST"])
@login_required
def mark_read(conversation_id: uuid.UUID):
    messages.mark_read(current_user, conversation_id, parse_uuid(request.values.get("message_id")))
    if is_htmx():
        return _changed(make_response("", 204))
    return redirect_to(url_for("messages.show", conversation_id=conversation_id))


@bp.route("/messages/<uuid:conversation_id>/mute", methods=["POST"])
@login_required
def mute(conversation_id: uuid.UUID):
    muted = request.form.get("muted") == "1"
    messages.set_muted(current_user, conversation_id, muted)
    flash(_("Muted: no digest emails and no count in the header for this conversation.") if muted
          else _("Unmuted."), "success")
    return _changed(redirect_to(url_for("messages.show", conversation_id=conversation_id)))


@bp.route("/messages/<uuid:conversation_id>/join", methods=["POST"])
@roles_required(*STAFF_ROLES)
def join(conversation_id: uuid.UUID):
    messages.join_class_conversation(current_user, conversation_id)
    flash(_("You joined this class conversation."), "success")
    return redirect_to(url_for("messages.show", conversation_id=conversation_id))


# --- one message ---------------------------------------------------------------------------------------------

def _back_to(message_id):
    conversation_id = parse_uuid(request.form.get("conversation_id"))
    return url_for("messages.show", conversation_id=conversation_id) if conversation_id else url_for(
        "messages.index")


@bp.route("/messages/m/<uuid:message_id>/delete", methods=["POST"])
@login_required
def delete(message_id: uuid.UUID):
    with on_refusal(redirect_to_url=_back_to(message_id)):
        message = messages.delete_own_message(current_user, message_id)
    if is_htmx():
        return render("messages/show.html", block="message", m=message, view=None)
    flash(_("Your message is deleted."), "success")
    return redirect_to(url_for("messages.show", conversation_id=message.conversation_id))


@bp.route("/messages/m/<uuid:message_id>/remove", methods=["POST"])
@roles_required(*STAFF_ROLES)
def remove(message_id: uuid.UUID):
    with on_refusal(redirect_to_url=_back_to(message_id)):
        message = messages.remove_message(current_user, message_id, request.form.get("reason", ""))
    flash(_("The message is removed; its reports are closed."), "success")
    return redirect_to(request.form.get("next") == "reports" and url_for("messages.reports")
                       or url_for("messages.show", conversation_id=message.conversation_id))


@bp.route("/messages/m/<uuid:message_id>/report", methods=["GET", "POST"])
@login_required
def report(message_id: uuid.UUID):
    message = messages.message_for(current_user, message_id) if request.method == "GET" else None
    if request.method == "POST":
        reason = request.form.get("reason", "")
        with on_refusal(lambda refused: render("messages/report.html", message=messages.message_for(
                current_user, message_id), error=refused.message, reason=reason)):
            reported = messages.report_message(current_user, message_id, reason)
        flash(_("Thank you. The school staff will look at this message."), "success")
        return redirect_to(url_for("messages.show", conversation_id=reported.message.conversation_id))
    return render("messages/report.html", message=message, error=None, reason="")


@bp.route("/messages/files/<uuid:attachment_id>")
@login_required
def attachment(attachment_id: uuid.UUID):
    found = messages.attachment_for(current_user, attachment_id)
    return serve_file(found.storage_key, download_name=None if found.is_image else found.file_name,
                      cache_control="private, no-store")


# --- blocking ------------------------------------------------------------------------------------------------

@bp.route("/messages/block/<uuid:user_id>", methods=["POST"])
@login_required
def block(user_id: uuid.UUID):
    with on_refusal(redirect_to_url=url_for("messages.index")):
        other = messages.block(current_user, user_id)
    flash(_("You blocked %(name)s: neither of you can write to the other directly.", name=other.full_name),
          "success")
    return redirect_to(request.form.get("next") or url_for("messages.index"))


@bp.route("/messages/unblock/<uuid:user_id>", methods=["POST"])
@login_required
def unblock(user_id: uuid.UUID):
    messages.unblock(current_user, user_id)
    flash(_("Unblocked."), "success")
    return redirect_to(request.form.get("next") or url_for("messages.index"))


# --- staff ---------------------------------------------------------------------------------------------------

@bp.route("/messages/all")
@roles_required(*STAFF_ROLES)
def all_conversations():
    page = messages.all_conversations(current_user, page_number())
    return render("messages/all.html", page=page, names=messages.member_names([c.id for c in page.items]))


@bp.route("/messages/reports")
@roles_required(*STAFF_ROLES)
def reports():
    return _no_store(render("messages/reports.html", reports=messages.open_reports(current_user)))


@bp.route("/messages/reports/<uuid:report_id>/resolve", methods=["POST"])
@roles_required(*STAFF_ROLES)
def resolve(report_id: uuid.UUID):
    with on_refusal(redirect_to_url=url_for("messages.reports")):
        messages.resolve_report(current_user, report_id)
    flash(_("The report is closed; the message stays."), "success")
    return redirect_to(url_for("messages.reports"))


@bp.route("/messages/audit")
@roles_required("super_admin")
def audit():
    return render("messages/audit.html", page=messages.read_audits(current_user, page_number()))
