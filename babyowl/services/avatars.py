"""Profile pictures: a 256 px JPEG made from whatever picture was uploaded."""
from __future__ import annotations

from babyowl.services.images import delete_stored, store_image

SIZE = (256, 256)


def store_avatar(stream) -> str:
    return store_image(stream, "avatars", SIZE)


def delete_avatar(key: str | None) -> None:
    delete_stored(key)
