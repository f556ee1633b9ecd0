from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class PlanRead(BaseModel):
    code: str
    monthly_limit: int


class UsageRead(BaseModel):
    used: int
    limit: int
    period_end: datetime


class MeRead(BaseModel):
    id: uuid.UUID
    auth0_sub: str
    role: str
    plan: PlanRead
    usage: UsageRead
