from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from vstage.models import Role


class AdminUserRead(BaseModel):
    """A user as operators see them."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    auth0_sub: str
    email: str | None
    role: Role
    stripe_customer_id: str | None
    created_at: datetime


class AdminUserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
