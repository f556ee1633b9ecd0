"""Request and response bodies of the images API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row

from vstage.jobs.schemas import JobRead
from vstage.models import Image, ImageStatus

#: Seeds are stored in a BIGINT column; derived variation seeds use the whole range, so
#: a variation can be re-created by restaging with its seed.
MAX_SEED = 2**63 - 1
#: Seeds picked for the client when it gives none.
RANDOM_SEEDS = 2**32


class UploadParams(BaseModel):
    """The text fields of ``POST /v1/projects/{id}/images`` (multipart)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    room_type: str = Field(min_length=1, max_length=64)
    style: str = Field(min_length=1, max_length=64)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    variations: int = Field(default=1, ge=1, le=4)


class RestageRequest(BaseModel):
    """``POST /v1/images/{id}/restage``: what to change; omitted = as the source image
    (the seed: a new random one)."""

    model_config = ConfigDict(extra="forbid")

    room_type: str | None = Field(default=None, min_length=1, max_length=64)
    style: str | None = Field(default=None, min_length=1, max_length=64)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)


class ImageRead(BaseModel):
    """An image as clients see it: download links instead of storage keys."""

    id: uuid.UUID
    project_id: uuid.UUID
    status: ImageStatus
    room_type: str
    style: str
    seed: int
    error: str | None
    width: int | None
    height: int | None
    source_image_id: uuid.UUID | None
    original_url: str = Field(description="Download path of the uploaded photo (cleaned).")
    staged_url: str | None = Field(description="Download path of the result, once ready.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, image: Image | Row[Any]) -> ImageRead:
        """From an :class:`Image` or a row of the ``images`` table."""
        return cls(
            id=image.id,
            project_id=image.project_id,
            status=image.status,
            room_type=image.room_type,
            style=image.style,
            seed=image.seed,
            error=image.error,
            width=image.width,
            height=image.height,
            source_image_id=image.source_image_id,
            original_url=f"/v1/images/{image.id}/original",
            staged_url=f"/v1/images/{image.id}/staged" if image.staged_url else None,
            created_at=image.created_at,
            updated_at=image.updated_at,
        )


class StagingAccepted(BaseModel):
    """202 answer of uploads and restages: one image and one job per variation."""

    images: list[ImageRead]
    jobs: list[JobRead]


class ImageEvent(BaseModel):
    """One server-sent ``status`` event of ``GET /v1/images/{id}/events``."""

    id: uuid.UUID
    status: ImageStatus
    progress: dict[str, Any] | None
    error: str | None
    staged_url: str | None
