"""Request and response bodies of ``POST /v1/projects/{id}/stage``."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vstage.images.schemas import MAX_SEED, StagingAccepted

MAX_BATCH_IMAGES = 100


class BatchRequest(BaseModel):
    """One room type and style for the whole listing; which photos, optionally."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    room_type: str = Field(min_length=1, max_length=64)
    style: str = Field(min_length=1, max_length=64)
    image_ids: list[uuid.UUID] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_BATCH_IMAGES,
        description="Images of this project, in any status, to stage again from their "
        "originals. Omitted: every photo of the project that has never been staged "
        "(no image made from its original has reached `ready`).",
    )
    style_seed: int | None = Field(
        default=None,
        ge=0,
        le=MAX_SEED,
        description="Reuse a previous batch's seed for a matching look; random if omitted.",
    )

    @field_validator("image_ids")
    @classmethod
    def _distinct(cls, ids: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
        return list(dict.fromkeys(ids)) if ids is not None else None


class BatchAccepted(StagingAccepted):
    """202 answer: one new image and one job per photo, all with the same style seed."""

    style_seed: int = Field(description="Shared by every image of the batch (its seed too).")
