"""What the image templates show, computed once per image: status, progress, URLs.

Kept apart from routes so the project page, the polled card fragment and the image page
describe an image the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vstage.images import service as images
from vstage.models import Image, ImageStatus
from vstage.staging import catalog

FINAL = frozenset({ImageStatus.ready, ImageStatus.error})

STATUS_TEXT = {
    ImageStatus.queued: "Queued",
    ImageStatus.processing: "Staging",
    ImageStatus.ready: "Ready",
    ImageStatus.error: "Failed",
}


@dataclass(frozen=True)
class ImageView:
    image: Image
    progress: dict[str, Any] | None

    @property
    def id(self) -> str:
        return str(self.image.id)

    @property
    def status(self) -> str:
        return ImageStatus(self.image.status).value

    @property
    def status_text(self) -> str:
        return STATUS_TEXT[ImageStatus(self.image.status)]

    @property
    def final(self) -> bool:
        return ImageStatus(self.image.status) in FINAL

    @property
    def ready(self) -> bool:
        return ImageStatus(self.image.status) == ImageStatus.ready

    @property
    def percent(self) -> int | None:
        """Diffusion progress in percent while processing, if the worker reported any."""
        if self.image.status != ImageStatus.processing or not self.progress:
            return None
        try:
            return round(float(self.progress.get("fraction", 0)) * 100)
        except (TypeError, ValueError):
            return None

    @property
    def step_text(self) -> str | None:
        p = self.progress or {}
        if self.image.status != ImageStatus.processing or "step" not in p:
            return None
        message = f" · {p['message']}" if p.get("message") else ""
        return f"step {p['step']} of {p.get('total', '?')}{message}"

    @property
    def original_src(self) -> str:
        return f"/v1/images/{self.image.id}/original"

    @property
    def staged_src(self) -> str | None:
        return f"/v1/images/{self.image.id}/staged" if self.image.staged_url else None

    @property
    def thumb_src(self) -> str:
        return self.staged_src or self.original_src

    @property
    def room_label(self) -> str:
        return label_of(catalog.ROOM_TYPES, self.image.room_type)

    @property
    def style_label(self) -> str:
        return label_of(catalog.STYLES, self.image.style)

    @property
    def style_swatch(self) -> str:
        for s in catalog.STYLES:
            if s.code == self.image.style:
                return s.swatch
        return "transparent"


def label_of(items: tuple[Any, ...], code: str) -> str:
    for item in items:
        if item.code == code:
            return str(item.label)
    return code


async def view_of(session: AsyncSession, image: Image) -> ImageView:
    """The image with its latest job's progress (only fetched while it is running)."""
    progress = None
    if ImageStatus(image.status) not in FINAL:
        job = await images.latest_job(session, image.id)
        progress = job.progress_json if job is not None else None
    return ImageView(image, progress)


def catalog_context() -> dict[str, Any]:
    """Room types and styles (with swatches) for the pickers, from the engine's catalog."""
    data = catalog.catalog_dict()
    return {"room_types": data["room_types"], "styles": data["styles"]}
