"""Video exercises: a YouTube or Vimeo link, or an uploaded MP4/WebM/Ogg file."""
from __future__ import annotations

import math
import re
from urllib.parse import parse_qs, urlsplit

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from itsdangerous import BadSignature, URLSafeSerializer
from wtforms import BooleanField, HiddenField, StringField

from babyowl.exercise_types.base import (
    ExerciseForm, ExerciseType, InvalidContent, InvalidInput, Problems, is_int, text_value, whole_number,
)
from babyowl.storage import get_storage, new_key, validate_key
from babyowl.validators import max_length, strip

MAX_DURATION_SECONDS = 24 * 60 * 60
MAX_URL_LENGTH = 2000
YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")
VIMEO_ID = re.compile(r"[0-9]{1,20}")
FILE_KEY_PREFIX = "videos/"
# Skipping the credits at the end still counts as having watched the video.
WATCHED_PERCENT_TO_COMPLETE = 90
# Watched seconds are reported by the browser. A report may not add more than
# the time that has passed since the previous one (at up to double speed),
# plus some slack for the first report and for a slow network.
MAX_PLAYBACK_RATE = 2
REPORT_SLACK_SECONDS = 30
# The player reports every 15 s; a hidden tab's timers may slow to once a minute or less.
MAX_REPORTED_SECONDS = 600

# extension → (content type, does the file start like one?)
VIDEO_FORMATS = {
    ".mp4": ("video/mp4", lambda head: head[4:8] == b"ftyp"),
    ".webm": ("video/webm", lambda head: head[:4] == b"\x1a\x45\xdf\xa3"),
    ".ogv": ("video/ogg", lambda head: head[:4] == b"OggS"),
}
_SIGNER_SALT = "babyowl.exercise-types.video-file"


def parse_video_url(url: str) -> tuple[str, str] | None:
    """(provider, videoId) of a YouTube or Vimeo link, or None."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"}:
        return None
    for prefix in ("www.", "m."):
        if host.startswith(prefix):
            host = host[len(prefix):]
    segments = [segment for segment in parts.path.split("/") if segment]
    candidate = None
    provider = None
    if host in {"youtube.com", "youtube-nocookie.com"}:
        provider = "youtube"
        if segments == ["watch"]:
            candidate = (parse_qs(parts.query).get("v") or [""])[0]
        elif len(segments) >= 2 and segments[0] in {"embed", "shorts", "live"}:
            candidate = segments[1]
    elif host == "youtu.be":
        provider = "youtube"
        candidate = segments[0] if segments else None
    elif host == "vimeo.com":
        provider = "vimeo"
        candidate = segments[0] if segments else None
    elif host == "player.vimeo.com":
        provider = "vimeo"
        candidate = segments[1] if len(segments) >= 2 and segments[0] == "video" else None
    if not candidate:
        return None
    pattern = YOUTUBE_ID if provider == "youtube" else VIMEO_ID
    if not pattern.fullmatch(candidate):
        return None
    return provider, candidate


def canonical_url(provider: str, video_id: str) -> str:
    if provider == "youtube":
        return f"https://www.youtube.com/watch?v={video_id}"
    return f"https://vimeo.com/{video_id}"


def embed_url(content: dict) -> str | None:
    """The privacy-enhanced player address of a linked video."""
    if content.get("provider") == "youtube":
        return f"https://www.youtube-nocookie.com/embed/{content['videoId']}"
    if content.get("provider") == "vimeo":
        return f"https://player.vimeo.com/video/{content['videoId']}?dnt=1"
    return None


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt=_SIGNER_SALT)


def sign_file_key(key: str) -> str:
    return _signer().dumps(key)


def unsign_file_key(token: str | None) -> str | None:
    """The stored file key a form carried, if the server signed it (an author cannot forge one)."""
    if not token:
        return None
    try:
        key = _signer().loads(token)
    except BadSignature:
        return None
    return key if _is_video_key(key) else None


def is_video_key(key) -> bool:
    """Whether `key` names a stored video file (what an exercise of this type may play)."""
    return _is_video_key(key)


def _is_video_key(key) -> bool:
    if not isinstance(key, str) or not key.startswith(FILE_KEY_PREFIX):
        return False
    try:
        validate_key(key)
    except ValueError:
        return False
    return True


class VideoForm(ExerciseForm):
    url = StringField(_l("Video link"), filters=[strip], validators=[max_length(MAX_URL_LENGTH)],
                      description=_l("A YouTube or Vimeo address. Leave empty to upload a file instead."),
                      render_kw={"inputmode": "url", "placeholder": "https://www.youtube.com/watch?v=…"})
    file = FileField(_l("Video file"), description=_l("MP4, WebM or Ogg video, instead of a link."),
                     render_kw={"accept": "video/mp4,video/webm,video/ogg,.mp4,.webm,.ogv"})
    # The stored file of the exercise being edited, signed by the server.
    current_file = HiddenField()
    duration_minutes = whole_number(_l("Length: minutes"), minimum=0, maximum=MAX_DURATION_SECONDS // 60)
    duration_seconds = whole_number(_l("Length: seconds"), minimum=0, maximum=59)
    allow_manual_complete = BooleanField(_l("Students may mark the video as watched themselves"))


def _has_upload(storage) -> bool:
    return bool(storage is not None and getattr(storage, "filename", None))


def _upload_size(stream) -> int | None:
    try:
        position = stream.tell()
        stream.seek(0, 2)
        size = stream.tell()
        stream.seek(position)
        return size
    except (AttributeError, OSError, ValueError):
        return None


class VideoType(ExerciseType):
    name = "video"
    label = _l("Video")
    form_class = VideoForm
    fields_template = "exercise_types/video_fields.html"
    preview_template = "exercise_types/video_preview.html"
    player_template = "exercise_types/video_player.html"

    def _validate(self, content: dict, problems: Problems) -> dict:
        source = content.get("source")
        result: dict = {"source": source, "provider": None, "url": None, "videoId": None, "fileKey": None}
        if source == "url":
            url = text_value(content.get("url"), limit=MAX_URL_LENGTH)
            parsed = parse_video_url(url) if url else None
            if not url:
                problems.add(_("Add a video link or upload a video file."))
            elif parsed is None:
                problems.add(_("Use a YouTube or Vimeo link, or upload a video file."))
            else:
                provider, video_id = parsed
                result.update(provider=provider, videoId=video_id, url=canonical_url(provider, video_id))
        elif source == "file":
            key = content.get("fileKey")
            if not _is_video_key(key):
                problems.add(_("The uploaded video file is missing."))
            else:
                result.update(provider="file", fileKey=key)
        else:
            problems.add(_("Add a video link or upload a video file."))

        duration = content.get("duration")
        if not is_int(duration) or not 0 < duration <= MAX_DURATION_SECONDS:
            problems.add(_("Give the video's length: more than 0 seconds and at most 24 hours."))
        result["duration"] = duration

        manual = content.get("allowManualComplete", False)
        if not isinstance(manual, bool):
            problems.add(_("“Students may mark the video as watched” must be yes or no."))
        result["allowManualComplete"] = manual
        return result

    def content_from_form(self, form) -> dict:
        url = (form.url.data or "").strip()
        upload = form.file.data if _has_upload(form.file.data) else None
        if url and upload is not None:
            raise InvalidContent([_("Give either a video link or a video file, not both.")])
        duration = (form.duration_minutes.data or 0) * 60 + (form.duration_seconds.data or 0)
        content = {"duration": duration, "allowManualComplete": bool(form.allow_manual_complete.data)}
        if url:
            return self.validate({**content, "source": "url", "url": url})
        if upload is None:
            kept = unsign_file_key(form.current_file.data)
            if kept is None:
                raise InvalidContent([_("Add a video link or upload a video file.")])
            return self.validate({**content, "source": "file", "fileKey": kept})

        extension, content_type = self._check_upload(upload)
        key = new_key("videos", extension)
        content = self.validate({**content, "source": "file", "fileKey": key})
        # Stored only once everything else is known to be right: a refused form leaves no file behind.
        upload.stream.seek(0)
        get_storage().save(key, upload.stream, content_type)
        return content

    @staticmethod
    def _check_upload(upload) -> tuple[str, str]:
        filename = upload.filename or ""
        extension = ("." + filename.rsplit(".", 1)[-1].lower()) if "." in filename else ""
        if extension not in VIDEO_FORMATS:
            raise InvalidContent([_("Upload an MP4, WebM or Ogg video (.mp4, .webm or .ogv).")])
        max_mb = current_app.config.get("VIDEO_MAX_MB", 200)
        stream = upload.stream
        size = _upload_size(stream)
        if size is None:
            size = upload.content_length or 0
        if size > max_mb * 1024 * 1024:
            raise InvalidContent([_("The video is larger than %(max)d MB.", max=max_mb)])
        stream.seek(0)
        head = stream.read(16)
        stream.seek(0)
        content_type, looks_right = VIDEO_FORMATS[extension]
        if not head or not looks_right(head):
            raise InvalidContent([_("This file is not an MP4, WebM or Ogg video.")])
        return extension, content_type

    def form_data(self, content: dict) -> dict:
        duration = content.get("duration") if is_int(content.get("duration")) else 0
        data = {
            "url": (content.get("url") or "") if content.get("source") == "url" else "",
            "duration_minutes": duration // 60,
            "duration_seconds": duration % 60,
            "allow_manual_complete": bool(content.get("allowManualComplete")),
            "current_file": "",
        }
        if content.get("source") == "file" and _is_video_key(content.get("fileKey")):
            data["current_file"] = sign_file_key(content["fileKey"])
        return data

    def stored_keys(self, content: dict) -> list[str]:
        if isinstance(content, dict) and content.get("source") == "file" and _is_video_key(content.get("fileKey")):
            return [content["fileKey"]]
        return []

    def estimated_minutes(self, content: dict, form_value: int | None) -> int | None:
        duration = content.get("duration") if isinstance(content, dict) else None
        if is_int(duration) and duration > 0:
            return math.ceil(duration / 60)
        return form_value

    def manual_completion_allowed(self, content: dict) -> bool:
        return isinstance(content, dict) and content.get("allowManualComplete") is True

    def why_not_marked_done(self, content: dict) -> str:
        return _("Watch the video to complete it: it counts once you have watched 90%.")

    def apply_report(self, content: dict, progress, *, seconds: int | None, scroll_depth: int | None,
                     now) -> None:
        if seconds is None or not 0 <= seconds <= MAX_REPORTED_SECONDS:
            raise InvalidInput(_("Send the seconds watched as a whole number from 0 to %(max)d.",
                                 max=MAX_REPORTED_SECONDS))
        duration = content.get("duration") or 0
        elapsed = max(0.0, (now - progress.updated_at).total_seconds())
        credible = int(elapsed * MAX_PLAYBACK_RATE) + REPORT_SLACK_SECONDS
        progress.watched_seconds = min(duration, progress.watched_seconds + min(seconds, credible))

    def completed_by_progress(self, content: dict, *, watched_seconds: int, scroll_depth: int) -> bool:
        duration = content.get("duration") if isinstance(content, dict) else None
        if not is_int(duration) or duration <= 0:
            return False
        return watched_seconds * 100 >= duration * WATCHED_PERCENT_TO_COMPLETE
