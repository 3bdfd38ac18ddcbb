"""Uploaded pictures (profile pictures, course covers): checked, shrunk and re-encoded.

Re-encoding with Pillow means what we store is an image we made: no script
hidden in a file named .jpg, and no EXIF block with the phone's GPS position.
"""
from __future__ import annotations

import io
import warnings

from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError

from babyowl.services.errors import InvalidInput
from babyowl.storage import get_storage, new_key

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel photo is fine; a decompression bomb is not
ACCEPTED_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}


def store_image(stream, prefix: str, max_size: tuple[int, int]) -> str:
    """Store an uploaded picture as a JPEG no larger than `max_size`; returns its storage key."""
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise InvalidInput(_("The picture is larger than 5 MB."))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in ACCEPTED_FORMATS:
                    raise InvalidInput(_("Use a JPEG, PNG, GIF or WebP picture."))
                if image.width * image.height > MAX_PIXELS:
                    raise InvalidInput(_("The picture has too many pixels."))
                image.thumbnail(max_size)
                canvas = Image.new("RGB", image.size, "white")
                rgba = image.convert("RGBA")
                canvas.paste(rgba, mask=rgba.getchannel("A"))
                out = io.BytesIO()
                canvas.save(out, "JPEG", quality=85, optimize=True)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, Image.DecompressionBombWarning,
            ValueError) as exc:
        raise InvalidInput(_("This file is not a picture we can read.")) from exc
    key = new_key(prefix, ".jpg")
    get_storage().save(key, out.getvalue(), "image/jpeg")
    return key


def delete_stored(key: str | None) -> None:
    if key:
        get_storage().delete(key)
