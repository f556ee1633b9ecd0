from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vstage.models import JobStatus


class AdminJobRead(BaseModel):
    """A job as operators see it: everything, including the technical error and owner."""

    model_config = ConfigDict(from_attributes=True, populate_by_name=True)

    id: uuid.UUID
    image_id: uuid.UUID | None
    type: str
    status: JobStatus
    attempts: int
    max_attempts: int
    error: str | None = Field(description="Technical error of the last failed attempt.")
    payload: dict[str, Any] = Field(validation_alias="payload_json")
    progress: dict[str, Any] | None = Field(validation_alias="progress_json")
    result: dict[str, Any] | None = Field(validation_alias="result_json")
    worker_id: str | None = Field(description="Worker that last claimed the job.")
    created_at: datetime
    run_after: datetime
    started_at: datetime | None
    heartbeat_at: datetime | None
    finished_at: datetime | None
