"""Storage keys are ours: UUID paths with a fixed set of names, never user input."""

from __future__ import annotations

import uuid

import pytest

from vstage.storage import (
    InvalidKey,
    content_disposition,
    image_prefix,
    project_prefix,
    storage_key,
    user_prefix,
)


def test_storage_key_nests_user_project_image_and_name() -> None:
    user, project, image = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    key = storage_key(user, project, image, "original.jpg")
    assert key == f"u/{user}/p/{project}/i/{image}/original.jpg"
    assert key.startswith(image_prefix(user, project, image))
    assert key.startswith(project_prefix(user, project))
    assert key.startswith(user_prefix(user))


def test_storage_key_accepts_uuid_strings_and_canonicalises_them() -> None:
    user = uuid.uuid4()
    upper = str(user).upper()
    assert storage_key(upper, user, user, "mask.png") == storage_key(user, user, user, "mask.png")


@pytest.mark.parametrize("bad_id", ["../../etc", "alice", "", "1234"])
def test_storage_key_refuses_anything_but_uuids(bad_id: str) -> None:
    with pytest.raises(InvalidKey, match="not a UUID"):
        storage_key(bad_id, uuid.uuid4(), uuid.uuid4(), "original.jpg")


@pytest.mark.parametrize("name", ["holiday photo.jpg", "../original.jpg", "original.svg", ""])
def test_storage_key_refuses_names_outside_the_fixed_set(name: str) -> None:
    with pytest.raises(InvalidKey, match="unknown object name"):
        storage_key(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), name)


def test_content_disposition_is_an_attachment_with_the_name() -> None:
    assert content_disposition("kitchen.jpg") == 'attachment; filename="kitchen.jpg"'
    assert content_disposition("kitchen.jpg", inline=True).startswith("inline;")


@pytest.mark.parametrize(
    "hostile",
    ['a".jpg', "a\r\nSet-Cookie: x=1.jpg", "..\\..\\boot.ini", "/etc/passwd", "a;b=c.jpg"],
)
def test_content_disposition_cannot_be_broken_out_of(hostile: str) -> None:
    value = content_disposition(hostile)
    fallback = value.split('filename="', 1)[1].split('"', 1)[0]
    assert all(ch not in fallback for ch in '"\\/\r\n;')
    assert "\r" not in value
    assert "\n" not in value


def test_content_disposition_keeps_unicode_names_in_filename_star() -> None:
    value = content_disposition("K\u00fcche \u2013 gestylt.jpg")
    assert 'filename="K_che _ gestylt.jpg"' in value
    assert "filename*=UTF-8''K%C3%BCche%20%E2%80%93%20gestylt.jpg" in value
