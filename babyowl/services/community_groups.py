"""Study groups: who creates them, who belongs, and who may post in them.

Rules:
- Instructors and staff create a group; a student asks for one, and it waits
  (status "requested") until staff approve it (the student then is its
  creator) or reject it. A student never creates a group directly.
- Roles: creator, admin, member. The creator and admins invite; staff may do
  everything an admin may.
- An open group is joined by anyone of the school; an invitation group only by
  a person invited to it (accepting the invitation joins), or whose request to
  join its creator, an admin or staff accepted. Anyone but the creator may leave.
- One membership per person and group (UNIQUE); `members_count` is recounted
  from the rows in the same transaction, with the group row locked first, so
  parallel joins count exactly.
- A group's feed is the community feed limited to its posts; only members
  (and staff) post in it.
"""
from __future__ import annotations

import uuid

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, func, select

from babyowl.authz import TEACHING_ROLES, is_staff
from babyowl.extensions import db
from babyowl.models import CommunityGroup, CommunityGroupInvitation, CommunityGroupMember, User
from babyowl.models.base import utcnow
from babyowl.services.community import NotFound
from babyowl.services.errors import DomainError, InvalidInput, NotAllowed
from babyowl.services.listing import Key, Slice, keyset_page
from babyowl.services.notifications import _insert, notify, path_for
from babyowl.transactions import use_case

MAX_NAME = 255
MAX_DESCRIPTION = 2000
MANAGERS = ("creator", "admin")


class GroupRefused(DomainError):
    status_code = 409


def may_create_directly(user: User) -> bool:
    return user.role in TEACHING_ROLES


_BY_NAME = (Key(CommunityGroup.status, str), Key(CommunityGroup.name, str), Key(CommunityGroup.id, uuid.UUID))


def groups_for(user: User) -> list[CommunityGroup]:
    """Active groups, and the requests staff must decide (staff) or the person's own requests; by status and name."""
    return list(db.session.scalars(_groups_seen_by(user).order_by(*(key.column for key in _BY_NAME))))


def groups_after(user: User, *, after: list | None = None, limit: int = 20) -> Slice:
    """One keyset page of `groups_for`."""
    return keyset_page(_groups_seen_by(user), _BY_NAME, after=after, limit=limit)


def _groups_seen_by(user: User):
    if is_staff(user):
        return select(CommunityGroup).where(CommunityGroup.status.in_(("active", "requested")))
    return select(CommunityGroup).where((CommunityGroup.status == "active") | (
        (CommunityGroup.status == "requested") & (CommunityGroup.created_by == user.id)))


def memberships_of(user: User) -> dict[uuid.UUID, str]:
    return dict(db.session.execute(select(CommunityGroupMember.group_id, CommunityGroupMember.role).where(
        CommunityGroupMember.user_id == user.id)).all())


def pending_invitations(user: User) -> list[CommunityGroupInvitation]:
    from sqlalchemy.orm import joinedload

    return list(db.session.scalars(select(CommunityGroupInvitation).where(
        CommunityGroupInvitation.user_id == user.id, CommunityGroupInvitation.status == "pending")
        .options(joinedload(CommunityGroupInvitation.group))))


def group_for(user: User, group_id: uuid.UUID | None, *, lock: bool = False) -> CommunityGroup:
    group = None
    if group_id is not None:
        statement = select(CommunityGroup).where(CommunityGroup.id == group_id)
        if lock:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        group = db.session.scalars(statement).first()
    if group is None or not (group.status == "active" or is_staff(user) or group.created_by == user.id):
        raise NotFound(_("This group does not exist."))
    return group


def role_in(user: User, group: CommunityGroup) -> str | None:
    return db.session.scalar(select(CommunityGroupMember.role).where(
        CommunityGroupMember.group_id == group.id, CommunityGroupMember.user_id == user.id))


def may_manage(user: User, group: CommunityGroup) -> bool:
    return is_staff(user) or role_in(user, group) in MANAGERS


def _fields(name: str, description: str | None, join_policy: str) -> tuple[str, str | None, str]:
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("Give the group a name."))
    if len(name) > MAX_NAME or len(description or "") > MAX_DESCRIPTION:
        raise InvalidInput(_("The name or the description is too long."))
    if join_policy not in ("open", "invitation"):
        raise InvalidInput(_("Choose how people join."))
    return name, (description or "").strip() or None, join_policy


def _add_member(group: CommunityGroup, user_id: uuid.UUID, role: str = "member") -> bool:
    """Membership row (once) and the recount; the caller holds the group row's lock."""
    inserted = db.session.scalar(_insert(CommunityGroupMember).values(
        id=uuid.uuid4(), group_id=group.id, user_id=user_id, role=role, joined_at=utcnow())
        .on_conflict_do_nothing(index_elements=["group_id", "user_id"]).returning(CommunityGroupMember.id))
    _recount(group)
    return inserted is not None


def _recount(group: CommunityGroup) -> None:
    group.members_count = db.session.scalar(select(func.count()).where(CommunityGroupMember.group_id == group.id))


@use_case
def create_group(actor: User, *, name: str, description: str | None = None,
                 join_policy: str = "open") -> CommunityGroup:
    """Instructors and staff create a group at once; a student's group is a request staff decide."""
    name, description, join_policy = _fields(name, description, join_policy)
    direct = may_create_directly(actor)
    group = CommunityGroup(name=name, description=description, join_policy=join_policy, created_by=actor.id,
                           status="active" if direct else "requested", members_count=0)
    db.session.add(group)
    db.session.flush()
    if direct:
        _add_member(group, actor.id, "creator")
    return group


@use_case
def review_request(actor: User, group_id: uuid.UUID, approve: bool) -> CommunityGroup:
    if not is_staff(actor):
        raise NotAllowed(_("Only staff approve study groups."))
    group = group_for(actor, group_id, lock=True)
    if group.status != "requested":
        raise GroupRefused(_("This group is not waiting for a decision."))
    group.status = "active" if approve else "rejected"
    group.reviewed_by, group.reviewed_at = actor.id, utcnow()
    if approve and group.created_by:
        _add_member(group, group.created_by, "creator")
    return group


@use_case
def join(user: User, group_id: uuid.UUID) -> CommunityGroup:
    group = group_for(user, group_id, lock=True)
    if group.status != "active":
        raise GroupRefused(_("This group is not open yet."))
    if group.join_policy != "open":
        invitation = db.session.scalar(select(CommunityGroupInvitation).where(
            CommunityGroupInvitation.group_id == group.id, CommunityGroupInvitation.user_id == user.id,
            CommunityGroupInvitation.kind == "invitation",
            CommunityGroupInvitation.status.in_(("pending", "accepted"))))
        if invitation is None:
            raise NotAllowed(_("This group is by invitation only."))
        invitation.status, invitation.answered_at = "accepted", utcnow()
    _add_member(group, user.id)
    return group


@use_case
def leave(user: User, group_id: uuid.UUID) -> CommunityGroup:
    group = group_for(user, group_id, lock=True)
    if role_in(user, group) == "creator":
        raise GroupRefused(_("The creator cannot leave the group. Ask staff to hand it over."))
    db.session.execute(delete(CommunityGroupMember).where(CommunityGroupMember.group_id == group.id,
                                                          CommunityGroupMember.user_id == user.id))
    _recount(group)
    return group


@use_case
def invite(actor: User, group_id: uuid.UUID, email: str) -> CommunityGroupInvitation | None:
    """Invite a person of the school by email; they get a notification and join by accepting."""
    group = group_for(actor, group_id, lock=True)
    if not may_manage(actor, group):
        raise NotAllowed(_("Only the group's creator, its admins and staff invite people."))
    from babyowl.services.accounts import find_user_by_email

    invitee = find_user_by_email((email or "").strip())
    if invitee is None or invitee.erased_at is not None or invitee.status != "active":
        raise InvalidInput(_("Nobody in the school has this email address."))
    if role_in(invitee, group) is not None:
        raise GroupRefused(_("%(name)s is already a member.", name=invitee.full_name))
    invitation_id = db.session.scalar(_insert(CommunityGroupInvitation).values(
        id=uuid.uuid4(), group_id=group.id, user_id=invitee.id, invited_by=actor.id, kind="invitation",
        status="pending", created_at=utcnow()).on_conflict_do_update(
        index_elements=["group_id", "user_id"],
        set_={"status": "pending", "invited_by": actor.id, "kind": "invitation"})
        .returning(CommunityGroupInvitation.id))
    notify([invitee], kind="group_invitation", title=_l("Invitation to a study group"),
           message=_l("%(name)s invited you to the group “%(group)s”.", name=actor.full_name, group=group.name),
           reference_id=group.id, link=path_for("community.show_group", group_id=group.id),
           event_key=f"group-invitation:{invitation_id}:{utcnow().date().isoformat()}")
    return db.session.get(CommunityGroupInvitation, invitation_id)


@use_case
def request_to_join(user: User, group_id: uuid.UUID) -> None:
    """Ask to join an invitation-only group; its creator, admins or staff decide. Asking again changes nothing."""
    group = group_for(user, group_id, lock=True)
    if group.status != "active" or group.join_policy != "invitation":
        raise GroupRefused(_("This group is open: join it directly."))
    if role_in(user, group) is not None:
        raise GroupRefused(_("You are already a member."))
    db.session.execute(_insert(CommunityGroupInvitation).values(
        id=uuid.uuid4(), group_id=group.id, user_id=user.id, kind="request", status="pending", created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["group_id", "user_id"]))


def join_requests(group: CommunityGroup) -> list[CommunityGroupInvitation]:
    from sqlalchemy.orm import joinedload

    return list(db.session.scalars(select(CommunityGroupInvitation).where(
        CommunityGroupInvitation.group_id == group.id, CommunityGroupInvitation.kind == "request",
        CommunityGroupInvitation.status == "pending").options(joinedload(CommunityGroupInvitation.user))
        .order_by(CommunityGroupInvitation.created_at)))


def pending_kind(user: User, group: CommunityGroup) -> str | None:
    """"invitation" when the person is invited, "request" when they asked, else None."""
    return db.session.scalar(select(CommunityGroupInvitation.kind).where(
        CommunityGroupInvitation.group_id == group.id, CommunityGroupInvitation.user_id == user.id,
        CommunityGroupInvitation.status == "pending"))


@use_case
def answer_request(actor: User, group_id: uuid.UUID, user_id: uuid.UUID, accept: bool) -> None:
    group = group_for(actor, group_id, lock=True)
    if not may_manage(actor, group):
        raise NotAllowed(_("Only the group's creator, its admins and staff decide who joins."))
    request = db.session.scalar(select(CommunityGroupInvitation).where(
        CommunityGroupInvitation.group_id == group.id, CommunityGroupInvitation.user_id == user_id,
        CommunityGroupInvitation.kind == "request", CommunityGroupInvitation.status == "pending"))
    if request is None:
        raise NotFound(_("This request does not exist."))
    request.status, request.answered_at = ("accepted" if accept else "declined"), utcnow()
    if accept:
        _add_member(group, user_id)


@use_case
def set_role(actor: User, group_id: uuid.UUID, user_id: uuid.UUID, role: str) -> None:
    group = group_for(actor, group_id, lock=True)
    if not (is_staff(actor) or role_in(actor, group) == "creator"):
        raise NotAllowed(_("Only the group's creator and staff change roles."))
    if role not in ("admin", "member"):
        raise InvalidInput(_("Choose admin or member."))
    member = db.session.scalar(select(CommunityGroupMember).where(
        CommunityGroupMember.group_id == group.id, CommunityGroupMember.user_id == user_id))
    if member is None:
        raise NotFound(_("This person is not a member."))
    if member.role == "creator":
        raise GroupRefused(_("The creator's role does not change."))
    member.role = role


def members(group: CommunityGroup, limit: int = 200) -> list[CommunityGroupMember]:
    from sqlalchemy.orm import joinedload

    order = case({"creator": 0, "admin": 1}, value=CommunityGroupMember.role, else_=2)
    return list(db.session.scalars(select(CommunityGroupMember).where(CommunityGroupMember.group_id == group.id)
                                   .options(joinedload(CommunityGroupMember.user))
                                   .order_by(order, CommunityGroupMember.joined_at).limit(limit)))
