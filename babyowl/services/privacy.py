"""Privacy: a person's copy of their data, their request to be forgotten, and erasure.

Erasure is not a row delete. Attendance, credits and payments are the school's
records (a student's credits_used must still reconcile with their marks after
they leave), so the users row stays as an anonymous anchor for them, and
everything that only describes the person (progress, posts, messages, XP,
notifications) is deleted.

Community: the person's posts go (with their pictures, and the likes and
comments others left on them), and their comments on other people's posts are
removed, not anonymised: a child's own words can identify them even without a
name, and "Erased user said …" would keep exactly what they asked to be
forgotten. The counters of the posts, groups and events they touched are
recounted.
"""
from __future__ import annotations

import io
import json
import logging
import posixpath
import re
import uuid
import zipfile
from datetime import date, datetime, time
from decimal import Decimal

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from babyowl import emails
from babyowl.authz import can_erase_accounts
from babyowl.extensions import db
from babyowl.models import (
    AnnouncementRead,
    AssignmentSubmission,
    ClassAttendance,
    ClassEnrollment,
    CodingSubmission,
    CommunityComment,
    CommunityEvent,
    CommunityEventRSVP,
    CommunityGroup,
    CommunityGroupInvitation,
    CommunityGroupMember,
    CommunityPost,
    CommunityPostImage,
    CommunityPostLike,
    CommunityReport,
    CreditAdjustment,
    ExerciseProgress,
    LessonProgress,
    Conversation,
    ConversationMember,
    Message,
    MessageAttachment,
    MessageReport,
    Notification,
    NotificationPreference,
    OutboundEmail,
    Invoice,
    Payment,
    PaymentProof,
    QuizAttempt,
    SchoolClass,
    User,
    UserBadge,
    UserBlock,
    UserLevel,
    UserSession,
    XPTransaction,
)
from babyowl.models.base import Base, utcnow
from babyowl.services.errors import DomainError, NotAllowed
from babyowl.storage import get_storage
from babyowl.transactions import after_commit, use_case

log = logging.getLogger(__name__)

# Stored as data, not shown through gettext: the row must read the same in
# every language, and a translation would be a different value.
ERASED_NAME = "Erased user"


class AlreadyErased(DomainError):
    pass


class CannotEraseSelf(DomainError):
    pass


# --- every column that points at a person -------------------------------------

DELETE, KEEP = "delete", "keep"
# Set the column to NULL: the row stays for the others it belongs to, no longer naming the person
# (a message in someone else's conversation, a report staff acted on).
ANONYMISE = "anonymise"


@dataclass(frozen=True)
class Handling:
    """What export and erasure do with the rows a column ties to a person.

    `export`: the key of data.json that holds them, or None for a record of
    something the person did as staff or instructor to other people's rows
    (who marked, graded, verified): the school's record, not data about them.
    `erase`: DELETE the rows, KEEP them pointing at the anonymous row, or ANONYMISE them (the column set
    to NULL).
    """

    export: str | None
    erase: str


# Every foreign key to users.id, found from Base.metadata by the test that
# checks this map (tests/services/test_privacy.py): a new table with a column
# pointing at a person fails that test until it is decided here.
PERSONAL_DATA: dict[tuple[str, str], Handling] = {
    ("user_sessions", "user_id"): Handling("sessions", DELETE),
    ("outbound_emails", "user_id"): Handling("emails", DELETE),
    ("class_enrollments", "student_id"): Handling("enrollments", KEEP),
    ("lesson_progress", "user_id"): Handling("lesson_progress", DELETE),
    ("exercise_progress", "user_id"): Handling("exercise_progress", DELETE),
    ("quiz_attempts", "user_id"): Handling("quiz_attempts", DELETE),
    ("coding_submissions", "user_id"): Handling("coding_submissions", DELETE),
    ("assignment_submissions", "student_id"): Handling("assignment_submissions", DELETE),
    ("xp_transactions", "user_id"): Handling("xp_transactions", DELETE),
    ("user_levels", "user_id"): Handling("level", DELETE),
    ("user_badges", "user_id"): Handling("badges", DELETE),
    # A bonus given or removed by this person (staff) to a student: the student's ledger, kept.
    ("xp_transactions", "awarded_by"): Handling(None, KEEP),
    ("notifications", "user_id"): Handling("notifications", DELETE),
    ("notification_preferences", "user_id"): Handling("notification_email_choices", DELETE),
    ("announcement_reads", "user_id"): Handling("announcements_read", DELETE),
    ("community_posts", "author_id"): Handling("community_posts", DELETE),
    ("community_comments", "author_id"): Handling("community_comments", DELETE),
    ("community_post_likes", "user_id"): Handling("community_post_likes", DELETE),
    ("community_group_members", "user_id"): Handling("community_groups", DELETE),
    ("community_event_rsvps", "user_id"): Handling("community_event_rsvps", DELETE),
    # Messages stay in the others' conversations without a sender; their attachments (files) are deleted.
    ("messages", "sender_id"): Handling("messages", ANONYMISE),
    ("conversation_members", "user_id"): Handling("conversations", DELETE),
    ("message_reports", "reporter_id"): Handling("message_reports", ANONYMISE),
    ("user_blocks", "blocker_id"): Handling("blocked_people", DELETE),
    # Someone else's choice not to hear from the person: theirs, not the person's data; gone with the person.
    ("user_blocks", "blocked_id"): Handling(None, DELETE),
    # Invoices and proofs of transfer are the school's accounts: kept, linked to the anonymous row.
    ("invoices", "student_id"): Handling("invoices", KEEP),
    ("payment_proofs", "uploaded_by"): Handling("payment_proofs", KEEP),
    # Records of what the person did to others' rows, kept for the school.
    ("class_attendance", "marked_by"): Handling(None, KEEP),
    ("class_attendance", "updated_by"): Handling(None, KEEP),
    ("attendance_changes", "changed_by"): Handling(None, KEEP),
    ("credit_adjustments", "adjusted_by"): Handling(None, KEEP),
    ("lesson_unlocks", "unlocked_by"): Handling(None, KEEP),
    ("assignment_submissions", "graded_by"): Handling(None, KEEP),
    ("payments", "verified_by"): Handling(None, KEEP),
    ("invoices", "created_by"): Handling(None, KEEP),
    ("invoice_events", "actor_id"): Handling(None, KEEP),
    ("invoice_deliveries", "delivered_by"): Handling(None, KEEP),
    ("classes", "instructor_id"): Handling(None, KEEP),
    ("courses", "created_by"): Handling(None, KEEP),
    ("announcements", "instructor_id"): Handling(None, KEEP),
    ("community_groups", "created_by"): Handling(None, KEEP),
    ("community_events", "created_by"): Handling(None, KEEP),
    ("messages", "deleted_by"): Handling(None, KEEP),
    ("message_reports", "resolved_by"): Handling(None, KEEP),
    ("conversation_read_audits", "reader_id"): Handling(None, KEEP),
    # Community beyond the spec: invitations a person got and reports they made go with them; what they did
    # as a moderator or group admin stays as the school's record.
    ("community_group_invitations", "user_id"): Handling("community_group_invitations", DELETE),
    ("community_reports", "reporter_id"): Handling("community_reports", DELETE),
    ("community_posts", "moderated_by"): Handling(None, KEEP),
    ("community_posts", "approved_by"): Handling(None, KEEP),
    ("community_comments", "moderated_by"): Handling(None, KEEP),
    ("community_groups", "reviewed_by"): Handling(None, KEEP),
    ("community_group_invitations", "invited_by"): Handling(None, KEEP),
    ("community_reports", "resolved_by"): Handling(None, KEEP),
    ("community_settings", "updated_by"): Handling(None, KEEP),
}


def _user_columns(table):
    return [fk.parent for fk in table.foreign_keys if fk.column.table.name == "users"]


def unhandled_user_columns(metadata=Base.metadata) -> list[tuple[str, str]]:
    """The columns pointing at a person that export and erasure have no decision for (should be none)."""
    return sorted((table.name, column.name) for table in metadata.sorted_tables for column in _user_columns(table)
                  if (table.name, column.name) not in PERSONAL_DATA)


def erased_email(user: User) -> str:
    # `.invalid` is reserved (RFC 2606): nothing can ever be delivered there,
    # and the id keeps the unique email column unique.
    return f"erased-{user.id.hex}@erased.invalid"


# --- export -----------------------------------------------------------------

def _json_default(value):
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _payments_of(email: str):
    # Payments are recorded before the payer has an account, so the email is
    # the only link; staff type it by hand, hence case and spaces are ignored.
    return func.lower(func.trim(Payment.student_email)) == email.strip().lower()


def _safe_file_name(name: str | None, key: str) -> str:
    # The name is what the student's browser sent: never let it climb out of
    # its folder in the archive ("../../x") or carry control characters.
    name = (name or posixpath.basename(key)).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip().lstrip(".")
    return name or "file"


def _avatar_path(key: str) -> str:
    extension = posixpath.splitext(key)[1]
    return "files/avatar" + (extension if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", extension) else "")


def _level_of(total_xp: int) -> int:
    from babyowl.services.xp import level_info

    return level_info(total_xp).level


def export_user_data(user: User) -> bytes:
    """A ZIP archive with everything the school holds about `user`: data.json and their files."""
    uid = user.id
    scalars = db.session.scalars

    # One query per collection; related names come in the same query (no N+1).
    enrollments = scalars(
        select(ClassEnrollment).where(ClassEnrollment.student_id == uid)
        .options(joinedload(ClassEnrollment.school_class).joinedload(SchoolClass.course))
        .order_by(ClassEnrollment.enrolled_at)
    ).all()
    attendance = scalars(
        select(ClassAttendance).join(ClassAttendance.enrollment).where(ClassEnrollment.student_id == uid)
        .options(joinedload(ClassAttendance.school_class))
        .order_by(ClassAttendance.meeting_date, ClassAttendance.meeting_number)
    ).all()
    adjustments = scalars(
        select(CreditAdjustment).join(CreditAdjustment.enrollment).where(ClassEnrollment.student_id == uid)
        .options(contains_eager(CreditAdjustment.enrollment).joinedload(ClassEnrollment.school_class))
        .order_by(CreditAdjustment.adjusted_at)
    ).all()
    quiz_attempts = scalars(
        select(QuizAttempt).where(QuizAttempt.user_id == uid)
        .options(joinedload(QuizAttempt.exercise)).order_by(QuizAttempt.created_at)
    ).all()
    coding = scalars(
        select(CodingSubmission).where(CodingSubmission.user_id == uid)
        .options(joinedload(CodingSubmission.exercise)).order_by(CodingSubmission.created_at)
    ).all()
    assignments = scalars(
        select(AssignmentSubmission).where(AssignmentSubmission.student_id == uid)
        .options(joinedload(AssignmentSubmission.exercise)).order_by(AssignmentSubmission.submitted_at)
    ).all()
    xp = scalars(select(XPTransaction).where(XPTransaction.user_id == uid).order_by(XPTransaction.created_at)).all()
    level = db.session.scalar(select(UserLevel).where(UserLevel.user_id == uid))
    badges = scalars(
        select(UserBadge).where(UserBadge.user_id == uid).options(joinedload(UserBadge.badge))
        .order_by(UserBadge.earned_at)
    ).all()
    lesson_progress = scalars(
        select(LessonProgress).where(LessonProgress.user_id == uid).options(joinedload(LessonProgress.lesson))
        .order_by(LessonProgress.created_at)
    ).all()
    exercise_progress = scalars(
        select(ExerciseProgress).where(ExerciseProgress.user_id == uid)
        .options(joinedload(ExerciseProgress.exercise)).order_by(ExerciseProgress.created_at)
    ).all()
    notifications = scalars(
        select(Notification).where(Notification.user_id == uid).order_by(Notification.created_at)
    ).all()
    preferences = scalars(
        select(NotificationPreference).where(NotificationPreference.user_id == uid)
        .order_by(NotificationPreference.kind)
    ).all()
    posts = scalars(
        select(CommunityPost).where(CommunityPost.author_id == uid).options(selectinload(CommunityPost.images))
        .order_by(CommunityPost.created_at)
    ).all()
    invitations = scalars(
        select(CommunityGroupInvitation).where(CommunityGroupInvitation.user_id == uid)
        .options(joinedload(CommunityGroupInvitation.group)).order_by(CommunityGroupInvitation.created_at)
    ).all()
    reports = scalars(
        select(CommunityReport).where(CommunityReport.reporter_id == uid).order_by(CommunityReport.created_at)
    ).all()
    comments = scalars(
        select(CommunityComment).where(CommunityComment.author_id == uid).order_by(CommunityComment.created_at)
    ).all()
    likes = scalars(
        select(CommunityPostLike).where(CommunityPostLike.user_id == uid).order_by(CommunityPostLike.created_at)
    ).all()
    memberships = scalars(
        select(CommunityGroupMember).where(CommunityGroupMember.user_id == uid)
        .options(joinedload(CommunityGroupMember.group)).order_by(CommunityGroupMember.joined_at)
    ).all()
    rsvps = scalars(
        select(CommunityEventRSVP).where(CommunityEventRSVP.user_id == uid)
        .options(joinedload(CommunityEventRSVP.event)).order_by(CommunityEventRSVP.created_at)
    ).all()
    messages = scalars(
        select(Message).where(Message.sender_id == uid).options(selectinload(Message.attachments))
        .order_by(Message.created_at, Message.id)
    ).all()
    conversations = scalars(
        select(ConversationMember).where(ConversationMember.user_id == uid)
        .options(joinedload(ConversationMember.conversation).joinedload(Conversation.school_class))
        .order_by(ConversationMember.joined_at)
    ).all()
    message_reports = scalars(
        select(MessageReport).where(MessageReport.reporter_id == uid).order_by(MessageReport.created_at)
    ).all()
    blocked_people = scalars(
        select(UserBlock).where(UserBlock.blocker_id == uid).order_by(UserBlock.created_at)
    ).all()
    login_sessions = scalars(
        select(UserSession).where(UserSession.user_id == uid).order_by(UserSession.created_at)
    ).all()
    sent_emails = scalars(
        select(OutboundEmail).where(OutboundEmail.user_id == uid).order_by(OutboundEmail.created_at)
    ).all()
    announcements_read = scalars(
        select(AnnouncementRead).where(AnnouncementRead.user_id == uid)
        .options(joinedload(AnnouncementRead.announcement)).order_by(AnnouncementRead.read_at)
    ).all()
    invoices = scalars(
        select(Invoice).where(Invoice.student_id == uid).options(joinedload(Invoice.school_class))
        .order_by(Invoice.created_at)
    ).all()
    proofs = scalars(
        select(PaymentProof).join(PaymentProof.invoice).where(Invoice.student_id == uid)
        .options(contains_eager(PaymentProof.invoice)).order_by(PaymentProof.created_at)
    ).all()
    payments = scalars(
        select(Payment).where(_payments_of(user.email)).options(joinedload(Payment.course))
        .order_by(Payment.created_at)
    ).all()

    data = {
        "exported_at": utcnow().isoformat(),
        "profile": {
            "id": user.id, "email": user.email, "full_name": user.full_name, "bio": user.bio,
            "role": user.role, "status": user.status, "email_verified": user.email_verified,
            "created_at": user.created_at, "last_login_at": user.last_login_at,
            "deletion_requested_at": user.deletion_requested_at, "language": user.language,
        },
        "enrollments": [{
            "class": e.school_class.name, "course": e.school_class.course.title, "type": e.school_class.type,
            "status": e.status, "meeting_credits": e.meeting_credits, "credits_used": e.credits_used,
            "credits_remaining": e.credits_remaining, "attendance_rate": e.attendance_rate,
            "payment_status": e.payment_status, "payment_amount": e.payment_amount, "enrolled_at": e.enrolled_at,
        } for e in enrollments],
        "attendance": [{
            "class": a.school_class.name, "meeting_number": a.meeting_number, "meeting_date": a.meeting_date,
            "status": a.status, "credit_deducted": a.credit_deducted, "marked_at": a.marked_at, "notes": a.notes,
        } for a in attendance],
        "credit_adjustments": [{
            "class": c.enrollment.school_class.name, "adjustment": c.adjustment,
            "credits_before": c.credits_before, "credits_after": c.credits_after, "reason": c.reason,
            "reason_detail": c.reason_detail, "adjusted_at": c.adjusted_at,
        } for c in adjustments],
        "quiz_attempts": [{
            "exercise": q.exercise.title, "score": q.score, "max_score": q.max_score, "answers": q.answers,
            "attempt_number": q.attempt_number, "created_at": q.created_at,
        } for q in quiz_attempts],
        "coding_submissions": [{
            "exercise": c.exercise.title, "code": c.code, "score": c.score, "max_score": c.max_score,
            "passed": c.passed, "created_at": c.created_at,
        } for c in coding],
        "assignment_submissions": [],  # filled below, with the file's place in the archive
        "xp_transactions": [
            {"amount": x.amount, "reason": x.reason, "reference_id": x.reference_id, "class_id": x.class_id,
             "note": x.note, "created_at": x.created_at} for x in xp
        ],
        "level": level and {
            "total_xp": level.total_xp, "level": _level_of(level.total_xp),
            "leaderboard_opt_out": level.leaderboard_opt_out, "time_zone": level.time_zone,
        },
        "badges": [{"name": b.badge.name, "slug": b.badge.slug, "earned_at": b.earned_at,
                    "shared_at": b.shared_at} for b in badges],
        "lesson_progress": [{
            "lesson": p.lesson.title, "completed": p.completed, "exercises_completed": p.exercises_completed,
            "total_exercises": p.total_exercises, "completed_at": p.completed_at,
        } for p in lesson_progress],
        "exercise_progress": [{
            "exercise": p.exercise.title, "completed": p.completed, "watched_seconds": p.watched_seconds,
            "scroll_depth": p.scroll_depth, "completed_at": p.completed_at,
        } for p in exercise_progress],
        "notifications": [{
            "type": n.type, "title": n.title, "message": n.message, "read": n.read, "created_at": n.created_at,
        } for n in notifications],
        "notification_email_choices": [{"kind": p.kind, "email": p.email} for p in preferences],
        "community_posts": [{
            "id": p.id, "content": p.content, "media_urls": p.media_urls, "likes_count": p.likes_count,
            "comments_count": p.comments_count, "created_at": p.created_at, "scope": p.scope, "status": p.status,
            "moderation_reason": p.moderation_reason, "coding_submission_id": p.coding_submission_id,
            "drawing": p.drawing,
            "images": [f"files/community/{_safe_file_name(None, i.storage_key)}" for i in p.images],
        } for p in posts],
        "community_comments": [{
            "post_id": c.post_id, "content": c.content, "created_at": c.created_at, "status": c.status,
        } for c in comments],
        "community_group_invitations": [{
            "group": i.group.name, "status": i.status, "created_at": i.created_at,
        } for i in invitations],
        "community_reports": [{
            "post_id": r.post_id, "comment_id": r.comment_id, "reason": r.reason, "status": r.status,
            "created_at": r.created_at,
        } for r in reports],
        "community_post_likes": [{"post_id": li.post_id, "created_at": li.created_at} for li in likes],
        "community_groups": [
            {"name": m.group.name, "role": m.role, "joined_at": m.joined_at} for m in memberships
        ],
        "community_event_rsvps": [{
            "event": r.event.title, "event_date": r.event.event_date, "status": r.status, "created_at": r.created_at,
        } for r in rsvps],
        "messages": [],  # filled below, with the places of their attachments in the archive
        "conversations": [{
            "conversation_id": c.conversation_id, "kind": c.conversation.kind,
            "class": c.conversation.school_class.name if c.conversation.school_class else None,
            "joined_at": c.joined_at, "left_at": c.left_at, "muted": c.muted,
        } for c in conversations],
        "message_reports": [{
            "message_id": r.message_id, "reason": r.reason, "status": r.status, "created_at": r.created_at,
        } for r in message_reports],
        # Only that a block exists and when: who was blocked is another person's identity, by id.
        "blocked_people": [{"user_id": b.blocked_id, "created_at": b.created_at} for b in blocked_people],
        "payments": [{
            "student_name": p.student_name, "student_email": p.student_email, "student_phone": p.student_phone,
            "course": p.course.title if p.course else None, "package_type": p.package_type, "amount": p.amount,
            "payment_method": p.payment_method, "payment_ref": p.payment_ref, "status": p.status,
            "created_at": p.created_at, "verified_at": p.verified_at,
        } for p in payments],
        "invoices": [{
            "number": i.number, "class": i.school_class.name, "kind": i.kind, "meetings": i.meetings,
            "amount_due": i.amount_due, "unique_code": i.unique_code, "expected_total": i.expected_total,
            "amount_received": i.amount_received, "amount_refunded": i.amount_refunded, "status": i.status,
            "due_at": i.due_at, "created_at": i.created_at,
        } for i in invoices],
        "payment_proofs": [],  # filled below, with the file's place in the archive
        "sessions": [{
            "device": x.user_agent, "ip": x.ip, "signed_in_at": x.created_at, "last_seen_at": x.last_seen_at,
            "signed_out_at": x.revoked_at,
        } for x in login_sessions],
        "emails": [{
            "to": m.to_address, "subject": m.subject, "status": m.status, "created_at": m.created_at,
            "sent_at": m.sent_at,
        } for m in sent_emails],
        "announcements_read": [
            {"announcement": r.announcement.title, "read_at": r.read_at} for r in announcements_read
        ],
        "missing_files": [],
    }

    wanted: list[tuple[str, str]] = []  # (path in the archive, storage key)
    if user.avatar:
        wanted.append((_avatar_path(user.avatar), user.avatar))
    for post in posts:
        for image in post.images:
            wanted.append((f"files/community/{_safe_file_name(None, image.storage_key)}", image.storage_key))
    for s in assignments:
        path = None
        if s.file_url:
            path = f"files/assignments/{s.id}-{_safe_file_name(s.file_name, s.file_url)}"
            wanted.append((path, s.file_url))
        data["assignment_submissions"].append({
            "exercise": s.exercise.title, "type": s.type, "file_name": s.file_name, "file": path,
            "text_content": s.text_content, "link_url": s.link_url, "comment": s.comment, "version": s.version,
            "status": s.status, "grade": s.grade, "max_grade": s.max_grade, "feedback": s.feedback,
            "submitted_at": s.submitted_at,
        })

    for m in messages:
        files = []
        for attachment in m.attachments:
            path = f"files/messages/{attachment.id}-{_safe_file_name(attachment.file_name, attachment.storage_key)}"
            wanted.append((path, attachment.storage_key))
            files.append({"file_name": attachment.file_name, "file": path})
        data["messages"].append({"conversation_id": m.conversation_id, "content": m.content,
                                 "created_at": m.created_at, "deleted_at": m.deleted_at, "attachments": files})

    for p in proofs:
        path = f"files/payment_proofs/{p.id}-{_safe_file_name(p.file_name, p.file_key)}"
        wanted.append((path, p.file_key))
        data["payment_proofs"].append({
            "invoice": p.invoice.number, "file_name": p.file_name, "file": path, "transfer_date": p.transfer_date,
            "sender_name": p.sender_name, "sender_bank": p.sender_bank, "created_at": p.created_at,
        })

    storage = get_storage()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, key in wanted:
            try:
                content, _content_type = storage.read(key)
            except (FileNotFoundError, ValueError):
                # A lost upload (or a value that was never a storage key) must not
                # cost the person the rest of their export; say what is absent.
                data["missing_files"].append({"key": key, "file": path})
                continue
            archive.writestr(path, content)
        archive.writestr(
            "data.json", json.dumps(data, indent=2, ensure_ascii=False, default=_json_default).encode("utf-8")
        )
    return buffer.getvalue()


# --- deletion request and erasure -------------------------------------------

def _locked(user: User) -> User:
    # populate_existing: decide on the row as it is now, under the lock, not on
    # what this session happened to load earlier.
    return db.session.execute(
        select(User).where(User.id == user.id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()


def record_deletion_request(user: User) -> None:
    """Record that `user` asked to be forgotten (inside the caller's use case); staff then erase the account."""
    locked = _locked(user)
    if locked.erased_at is not None:
        raise AlreadyErased(_("This account has already been erased."))
    # The first request is the one the school's response time is measured from.
    if locked.deletion_requested_at is None:
        locked.deletion_requested_at = utcnow()


def _recount_counters(post_ids, group_ids, event_ids) -> None:
    # Recount from the rows instead of decrementing: a counter that had already
    # drifted is corrected rather than pushed further (or below zero). The
    # updated_at of other people's posts, groups and events is kept: a counter
    # is not an edit of their content.
    if post_ids:
        likes = select(func.count()).where(CommunityPostLike.post_id == CommunityPost.id).scalar_subquery()
        comments = select(func.count()).where(CommunityComment.post_id == CommunityPost.id,
                                              CommunityComment.status == "published").scalar_subquery()
        db.session.execute(
            update(CommunityPost).where(CommunityPost.id.in_(post_ids))
            .values(likes_count=likes, comments_count=comments, updated_at=CommunityPost.updated_at)
        )
    if group_ids:
        members = select(func.count()).where(CommunityGroupMember.group_id == CommunityGroup.id).scalar_subquery()
        db.session.execute(
            update(CommunityGroup).where(CommunityGroup.id.in_(group_ids))
            .values(members_count=members, updated_at=CommunityGroup.updated_at)
        )
    if event_ids:
        # Attendees are the people who said they will come, not every reply.
        attendees = (select(func.count())
                     .where(CommunityEventRSVP.event_id == CommunityEvent.id,
                            CommunityEventRSVP.status == "attending")
                     .scalar_subquery())
        db.session.execute(
            update(CommunityEvent).where(CommunityEvent.id.in_(event_ids))
            .values(attendees_count=attendees, updated_at=CommunityEvent.updated_at)
        )


@use_case
def erase_user(actor: User, user: User) -> None:
    """Anonymise `user` for good, keeping the school's records of them.

    What happens to each table that points at the person is `PERSONAL_DATA`:
    kept, still linked to the (now anonymous) row: enrollments, attendance,
    credit adjustments, unlocks, announcements, courses and classes they made
    or teach, payments. Deleted: everything else that is about the person.
    """
    if not can_erase_accounts(actor):
        raise NotAllowed(_("Only a super admin can erase an account."))
    if actor.id == user.id:
        raise CannotEraseSelf(_("You cannot erase your own account."))

    target = _locked(user)
    if target.erased_at is not None:
        raise AlreadyErased(_("This account has already been erased."))
    uid = target.id
    old_email, old_name, old_language = target.email, target.full_name, target.language

    # Collected before the rows that name them go.
    stored_keys = [target.avatar] if target.avatar else []
    stored_keys += db.session.scalars(
        select(AssignmentSubmission.file_url)
        .where(AssignmentSubmission.student_id == uid, AssignmentSubmission.file_url.is_not(None))
    ).all()
    attachment_keys = db.session.scalars(
        select(MessageAttachment.storage_key).join(MessageAttachment.message).where(Message.sender_id == uid)
    ).all()
    stored_keys += attachment_keys
    db.session.execute(delete(MessageAttachment).where(MessageAttachment.storage_key.in_(attachment_keys)))
    # The pictures of their posts go with the posts (rows by ON DELETE CASCADE, files after the commit).
    stored_keys += db.session.scalars(
        select(CommunityPostImage.storage_key).join(CommunityPost).where(CommunityPost.author_id == uid)
    ).all()
    post_ids = db.session.scalars(
        select(CommunityPostLike.post_id).where(CommunityPostLike.user_id == uid)
        .union(select(CommunityComment.post_id).where(CommunityComment.author_id == uid))
    ).all()
    group_ids = db.session.scalars(
        select(CommunityGroupMember.group_id).where(CommunityGroupMember.user_id == uid)
    ).all()
    event_ids = db.session.scalars(
        select(CommunityEventRSVP.event_id).where(CommunityEventRSVP.user_id == uid)
    ).all()

    # Children before parents: comments before posts. The person's messages stay
    # in the others' conversations with no sender; the files attached to them go.
    for table in reversed(Base.metadata.sorted_tables):
        for column in _user_columns(table):
            erase = PERSONAL_DATA[(table.name, column.name)].erase
            if erase == DELETE:
                db.session.execute(delete(table).where(column == uid))
            elif erase == ANONYMISE:
                db.session.execute(update(table).where(column == uid).values({column.name: None}))
    _recount_counters(post_ids, group_ids, event_ids)

    # The payment stays for the accounts; who paid now points at the
    # anonymous address, so the export and staff search still connect them.
    new_email = erased_email(target)
    db.session.execute(
        update(Payment).where(_payments_of(old_email))
        .values(student_name=None, student_phone=None, student_email=new_email)
    )

    target.email = new_email
    target.full_name = ERASED_NAME
    target.avatar = None
    target.bio = None
    target.language = None
    target.password_hash = None  # its sessions are deleted above; the fingerprint changes too
    target.status = "inactive"
    target.email_verified = False
    target.onboarding_completed = False
    target.erased_at = utcnow()

    # Only after the commit: had the transaction failed, the rows would still name these files.
    after_commit(_delete_files, uid, stored_keys)
    after_commit(_forget_in_leaderboards, uid)
    # The person asked to be told; the address is gone from the account, so the
    # outbox row is linked to nobody (the message is the last thing sent there).
    emails.send(emails.account_erased(to=old_email, name=old_name, language=old_language))


def _forget_in_leaderboards(uid) -> None:
    from babyowl.services import leaderboards

    leaderboards.forget_user(uid)


def _delete_files(uid, keys: list[str]) -> None:
    storage = get_storage()
    for key in keys:
        try:
            storage.delete(key)
        except Exception:
            # The database is already consistent; an orphan file is found and
            # removed by hand, which a person can act on from this log line.
            log.exception("Could not delete stored file %r of erased user %s", key, uid)
