from __future__ import annotations

from pydantic import BaseModel


class RoomTypeRead(BaseModel):
    code: str
    label: str


class StyleRead(BaseModel):
    code: str
    label: str
    swatch: str | None = None


class CatalogRead(BaseModel):
    room_types: list[RoomTypeRead]
    styles: list[StyleRead]
