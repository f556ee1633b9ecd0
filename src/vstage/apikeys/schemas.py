"""Request and response bodies of ``/v1/api-keys``."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from vstage.models import ApiKey


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, description="What the key is for.")


class ApiKeyRead(BaseModel):
    """A key as its owner sees it in a list: never the key itself."""

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The key's first characters (`vst_` + 4).")
    last4: str = Field(description="The key's last 4 characters.")
    created_at: datetime
    last_used_at: datetime | None = Field(description="Recorded to the minute.")
    revoked: bool
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyRead:
        return cls(
            id=row.id,
            name=row.name,
            prefix=row.prefix,
            last4=row.last4,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked=row.revoked_at is not None,
            revoked_at=row.revoked_at,
        )


class ApiKeyCreated(ApiKeyRead):
    """The answer to a create: the only time ``key`` is ever shown."""

    key: str = Field(description="Send as `Authorization: Bearer <key>`. Shown once; store it.")
