"""The JSON API of a person's own account, as the account pages: profile and picture, signed-in devices, their
data (the export, asking to be forgotten), and the erasure of an account by those who may erase."""
from __future__ import annotations

import uuid

from flask import Response, request
from flask_babel import gettext as _
from flask_babel import ngettext

from babyowl.authz import ERASERS
from babyowl.blueprints.api import schemas as s
from babyowl.blueprints.api import schemas_account as sa
from babyowl.blueprints.api.core import (
    PageQuery, answers_file, api_user, authenticated, decode_cursor, error, form_body, json_body, keyset_meta, ok,
    responses, spec,
)
from babyowl.blueprints.api.views import _auth_limit, _user_out, bp
from babyowl.services import accounts, privacy, sessions, users

# --- Profile -----------------------------------------------------------------------------------------------------


def _profile_out(user) -> sa.ProfileOut:
    return sa.ProfileOut.model_validate(user).model_copy(update={"has_avatar": bool(user.avatar)})


@bp.get("/me/profile")
@authenticated()
@spec.validate(resp=responses(sa.ProfileOut), tags=["account"])
def my_profile():
    return ok(_profile_out(api_user()))


@bp.patch("/me/profile")
@authenticated()
@spec.validate(json=sa.ProfileIn, resp=responses(sa.ProfileOut), tags=["account"])
def update_my_profile():
    """Name and "about me", as the profile page; a field not sent keeps its value."""
    body: sa.ProfileIn = json_body()
    user = api_user()
    accounts.update_profile(user, full_name=user.full_name if body.full_name is None else body.full_name,
                            bio=user.bio if body.bio is None else body.bio)
    return ok(_profile_out(user))


@bp.get("/me/profile/avatar")
@answers_file("image/jpeg")
@authenticated()
@spec.validate(resp=responses(None), tags=["account"])
def my_avatar():
    """The profile picture (a JPEG); 404 when none is set."""
    from babyowl.storage import get_storage

    user = api_user()
    try:
        # Read whole (a picture is at most a few hundred kB), never a redirect to S3: the API answers its files.
        data, content_type = get_storage().read(accounts.avatar_key(user.avatar or ""))
    except (FileNotFoundError, ValueError):
        return error(404, _("This picture does not exist."))
    return Response(data, mimetype=content_type, headers={"Cache-Control": "private, no-store"})


@bp.put("/me/profile/avatar")
@authenticated()
@spec.validate(form=sa.AvatarForm, resp=responses(sa.ProfileOut), tags=["account"])
def set_my_avatar():
    """A new picture (multipart/form-data, `file`); the old one is deleted once the new one is saved."""
    form_body()
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return error(422, _("Choose a picture to upload."), {"file": _("Choose a picture to upload.")})
    user = api_user()
    accounts.update_profile(user, full_name=user.full_name, bio=user.bio, avatar=upload)
    return ok(_profile_out(user))


@bp.delete("/me/profile/avatar")
@authenticated()
@spec.validate(resp=responses(sa.ProfileOut), tags=["account"])
def remove_my_avatar():
    user = api_user()
    accounts.update_profile(user, full_name=user.full_name, bio=user.bio, remove_avatar=True)
    return ok(_profile_out(user))


# --- Signed-in devices -------------------------------------------------------------------------------------------

@bp.get("/me/devices")
@authenticated()
@spec.validate(query=PageQuery, resp=responses(sa.DeviceOut, many=True), tags=["account"])
def my_devices():
    """Where the account is signed in (browsers and API clients), newest sign-in first; keyset pages."""
    query: PageQuery = request.context.query
    user = api_user()
    page = sessions.active_sessions_after(user, after=decode_cursor(query.cursor), limit=query.limit)
    return ok([sa.DeviceOut(id=device.id, device=device.user_agent, ip=device.ip, signed_in_at=device.created_at,
                            last_seen_at=device.last_seen_at, current=device.id == user.current_session_id)
               for device in page.items], **keyset_meta(page))


@bp.delete("/me/devices/<uuid:session_id>")
@authenticated()
@spec.validate(resp=responses(s.Done), tags=["account"])
def sign_out_device(session_id: uuid.UUID):
    """Sign another device out: its browser session and every API token it holds stop working at once. This
    device signs out with POST /auth/logout."""
    sessions.sign_out_device(api_user(), session_id)
    return ok(s.Done(message=_("That device is signed out.")))


@bp.post("/me/devices/sign-out-others")
@authenticated()
@spec.validate(resp=responses(sa.SignedOutOut), tags=["account"])
def sign_out_other_devices():
    """Every device but this one signs out (their tokens too)."""
    ended = sessions.sign_out_everywhere_else(api_user())
    return ok(sa.SignedOutOut(signed_out=ended, message=ngettext(
        "%(num)d other device is signed out.", "%(num)d other devices are signed out.", ended)))


# --- The person's data -------------------------------------------------------------------------------------------

@bp.get("/me/data-export")
@answers_file("application/zip")
@authenticated()
@spec.validate(resp=responses(None), tags=["account"])
def my_data_export():
    """Everything the school holds about the caller, as the account page's download: a ZIP of data.json and
    their files."""
    from babyowl.models.base import utcnow

    archive = privacy.export_user_data(api_user())
    return Response(archive, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="babyowl-data-{utcnow():%Y%m%d}.zip"',
        "Cache-Control": "no-store"})


@bp.post("/me/deletion-request")
@_auth_limit()
@authenticated()
@spec.validate(json=sa.PasswordIn, resp=responses(s.Done, 202), tags=["account"])
def request_deletion():
    """Ask for the account to be erased (the password again first); an administrator then erases it."""
    accounts.request_deletion(api_user(), json_body().password)
    return ok(s.Done(message=_("Your request is recorded. An administrator will delete your account and tell you "
                               "by email.")), 202)


@bp.post("/users/<uuid:user_id>/erase")
@authenticated(*ERASERS)
@spec.validate(resp=responses(s.UserOut), tags=["users"])
def erase_user(user_id: uuid.UUID):
    """Erase a person for good (super_admin): the row stays, anonymised, so attendance and credits keep their
    student; their sessions and tokens end."""
    actor = api_user()
    user = users.user_to_manage(actor, user_id)
    privacy.erase_user(actor, user)
    return ok(_user_out(user))
