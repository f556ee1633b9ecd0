"""Every room type and style has a label and prompts; unknown codes name the valid ones."""

from __future__ import annotations

import itertools
import re

import pytest

from vstage.errors import InvalidInput
from vstage.staging import catalog

REQUIRED_ROOMS = {
    "living_room", "bedroom", "kitchen", "dining_room", "bathroom",
    "home_office", "kids_room", "outdoor", "entryway", "studio",
}  # fmt: skip
REQUIRED_STYLES = {
    "modern", "scandinavian", "industrial", "mid_century", "luxury", "farmhouse",
    "coastal", "transitional", "minimalist", "bohemian", "japandi", "traditional",
}  # fmt: skip


def test_catalog_dict_has_exactly_the_documented_shape() -> None:
    data = catalog.catalog_dict()
    assert set(data) == {"room_types", "styles"}
    assert {r["code"] for r in data["room_types"]} >= REQUIRED_ROOMS
    assert {s["code"] for s in data["styles"]} >= REQUIRED_STYLES
    for entry in itertools.chain(data["room_types"], data["styles"]):
        assert re.fullmatch(r"[a-z][a-z0-9_]*", entry["code"])
        assert entry["label"]
        assert entry["label"][0].isupper()
    for entry in data["styles"]:
        assert re.fullmatch(r"#[0-9a-f]{6}", entry["swatch"])


@pytest.mark.parametrize(
    ("room", "style"),
    list(itertools.product(sorted(REQUIRED_ROOMS), sorted(REQUIRED_STYLES))),
)
def test_every_room_and_style_pair_has_a_specific_prompt(room: str, style: str) -> None:
    prompt = catalog.build_prompt(room, style)
    assert catalog.room_type(room).label.lower() in prompt.positive
    assert catalog.style(style).label.lower() in prompt.positive
    assert "windows" in prompt.positive  # the architecture is asked to stay
    assert "extra windows" in prompt.negative
    assert "floating furniture" in prompt.negative


def test_prompts_differ_between_styles_and_rooms() -> None:
    prompts = {catalog.build_prompt(r, s).positive for r in REQUIRED_ROOMS for s in REQUIRED_STYLES}
    assert len(prompts) == len(REQUIRED_ROOMS) * len(REQUIRED_STYLES)


def test_unknown_room_or_style_is_invalid_input_listing_valid_codes() -> None:
    with pytest.raises(InvalidInput, match=r"unknown room type 'garage'.*living_room"):
        catalog.build_prompt("garage", "modern")
    with pytest.raises(InvalidInput, match=r"unknown style 'baroque'.*japandi"):
        catalog.build_prompt("bedroom", "baroque")


def test_declutter_prompt_asks_for_an_empty_room() -> None:
    prompt = catalog.declutter_prompt()
    assert "empty room" in prompt.positive
    assert "furniture" in prompt.negative
