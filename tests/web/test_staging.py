"""The main path in a real browser: dev login → new project → drop two photos → both
staged live on screen → before/after slider → full-resolution download."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import Page, expect
from sqlalchemy import select
from tests.web.conftest import LiveAppFactory, screenshot
from tests.web.helpers import create_project, dev_login, drop_files
from tests.web.room import room_jpeg

from vstage.models import Image as ImageRow

pytestmark = pytest.mark.browser

STAGING_TIMEOUT_MS = 120_000
#: The tiny random model at a small working size, few steps and no drift retries: the
#: whole pipeline runs (load, mask, diffusion, composite at full resolution) in seconds.
FAST_ENGINE = {"steps": 4, "work_size": 256, "drift_retries": 0}


async def test_upload_stage_compare_download(
    page: Page, live_app: LiveAppFactory, tiny_model: Path, tmp_path: Path
) -> None:
    app = live_app(start_worker=True, model=str(tiny_model), **FAST_ENGINE)
    await dev_login(page, app, "web|stager")
    await create_project(page, "12 Elm Street")
    await expect(page.get_by_text("No photos yet")).to_be_visible()

    await page.get_by_label("Room type").select_option("living_room")
    await page.get_by_label("Style", exact=True).select_option("scandinavian")
    photos = [
        ("living-room.jpg", "image/jpeg", room_jpeg(1200, 800, seed=1)),
        (
            "bedroom.jpg",
            "image/jpeg",
            room_jpeg(960, 720, wall=(205, 214, 222), floor=(176, 140, 100), seed=2),
        ),
    ]
    await drop_files(page, "[data-dropzone]", photos)

    cards = page.locator("#image-grid [data-image-id]")
    await expect(cards).to_have_count(2)
    ready = page.locator('#image-grid [data-image-id][data-status="ready"]')
    await expect(ready).to_have_count(2, timeout=STAGING_TIMEOUT_MS)
    await expect(page.locator("#image-grid .badge.ready")).to_have_count(2)
    await screenshot(page, "project-page", full_page=True)

    # The image page of the larger photo: slider, movable with mouse and keyboard.
    async with app.database().transaction() as session:  # the two uploads raced
        large = str(await session.scalar(select(ImageRow.id).where(ImageRow.width == 1200)))
    await page.locator(f'#image-grid [data-image-id="{large}"] a').click()
    await expect(page).to_have_url(re.compile(rf"/images/{large}$"))
    slider = page.locator("img-comparison-slider")
    await expect(slider).to_be_visible()
    await expect(slider).to_have_class(re.compile(r"rendered"))
    assert await slider.evaluate("s => s.value") == 50
    box = await slider.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    await page.mouse.down()
    await page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.5, steps=8)
    await page.mouse.up()
    moved = await slider.evaluate("s => s.value")
    assert 10 < moved < 35
    await slider.focus()
    await page.keyboard.down("ArrowRight")  # the slider glides while the key is held
    await page.wait_for_timeout(300)
    await page.keyboard.up("ArrowRight")
    assert await slider.evaluate("s => s.value") > moved
    await page.evaluate("window.scrollTo(0, 0)")
    await screenshot(page, "before-after")

    # Download: the full-resolution staged file, then a labelled copy of it.
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download", exact=True).click()
    plain_path = tmp_path / "download"
    await (await info.value).save_as(plain_path)
    with Image.open(plain_path) as plain:
        assert plain.size == (1200, 800)
        plain_pixels = plain.convert("RGB")

    await page.get_by_label("Add a “Virtually staged” label").check()
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download", exact=True).click()
    download = await info.value
    assert "virtually-staged" in download.suggested_filename
    labelled_path = tmp_path / "labelled"
    await download.save_as(labelled_path)
    with Image.open(io.BytesIO(labelled_path.read_bytes())) as labelled:
        assert labelled.size == (1200, 800)
        corner = (20, 720, 320, 790)
        assert labelled.convert("RGB").crop(corner).tobytes() != plain_pixels.crop(corner).tobytes()
