"""Application-wide FastAPI dependencies: settings, the DB session, storage.

``SessionDep`` is the one way an endpoint gets a database session. Its scope is the
endpoint function: the transaction commits *before* the response is sent, so a
client that got 2xx can rely on the data being there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.config import Settings
from vstage.db import Database
from vstage.storage.base import Storage


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.db
    async with db.transaction() as session:
        yield session


# The getters are ``async`` on purpose: FastAPI runs plain ``def`` dependencies in a
# thread pool, a hop that costs more than the attribute read itself on every request.
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
StorageDep = Annotated[Storage, Depends(get_storage)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
