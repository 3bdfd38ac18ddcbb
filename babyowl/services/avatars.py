"""Profile pictures: a 256 px JPEG made from whatever picture was uploaded."""
from __future__ import annotations

from babyowl.services.images import delete_stored, store_image

SIZE = (256, 256)
# Every stored profile picture lives under this prefix (services/images.py names the folder).
AVATAR_PREFIX = "avatars/"


def store_avatar(stream) -> str:
    return store_image(stream, AVATAR_PREFIX.rstrip("/"), SIZE)


def delete_avatar(key: str | None) -> None:
    delete_stored(key)
