"""``vstage stage``, ``models`` and ``catalog`` on a Typer app the staging CLI registers onto."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from tests.staging.synthetic import draw_room
from vstage.staging.catalog import catalog_dict
from vstage.staging.cli import register


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    root = typer.Typer()
    register(root)
    return root


@pytest.fixture
def env(tiny_sd15: Path, tmp_path: Path) -> dict[str, str]:
    """The environment an operator would set for a quick CPU smoke run."""
    return {
        "VSTAGE_MODEL": str(tiny_sd15),
        "VSTAGE_WORK_SIZE": "256",
        "VSTAGE_STEPS": "2",
        "VSTAGE_DRIFT_RETRIES": "0",
        "VSTAGE_TORCH_THREADS": "1",
        "VSTAGE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/unused.db",
        "HF_HUB_OFFLINE": "1",
    }


@pytest.fixture
def photos(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "in"
    folder.mkdir()
    room = Image.fromarray(draw_room(384, 256).rgb)
    paths = {"png": folder / "lounge.png", "jpeg": folder / "hall.jpg", "gif": folder / "fake.jpg"}
    room.save(paths["png"], "PNG")
    room.save(paths["jpeg"], "JPEG", quality=90)
    room.save(paths["gif"], "GIF")  # a GIF wearing a .jpg name
    return paths


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_stage_writes_outputs_named_after_inputs(
    app: typer.Typer, env: dict[str, str], photos: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["stage", str(photos["png"]), str(photos["jpeg"]), "--room", "living_room"]
    args += ["--style", "modern", "--seed", "7", "--save-mask", "-o", str(out)]
    result = CliRunner().invoke(app, args, env=env)

    assert result.exit_code == 0, result.output + result.stderr
    staged_png = out / "lounge.staged.png"
    staged_jpeg = out / "hall.staged.jpg"
    assert Image.open(staged_png).format == "PNG"
    assert Image.open(staged_png).size == (384, 256)
    assert Image.open(staged_jpeg).format == "JPEG"
    mask = np.asarray(Image.open(out / "lounge.mask.png"))
    assert mask.shape == (256, 384)
    assert mask.max() == 255
    assert mask.min() == 0
    assert "seed 7" in result.stdout


def test_bad_input_is_one_line_and_other_inputs_still_run(
    app: typer.Typer, env: dict[str, str], photos: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["stage", str(photos["gif"]), str(photos["png"]), "--room", "bedroom"]
    args += ["--style", "japandi", "-o", str(out)]
    result = CliRunner().invoke(app, args, env=env)

    assert result.exit_code == 1
    errors = _lines(result.stderr)
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(str(photos["gif"]))
    assert "GIF" in errors[0]
    assert "Traceback" not in result.output
    assert (out / "lounge.staged.png").is_file()
    assert not list(out.glob("fake*"))


def test_truncated_file_and_pixel_bomb_each_get_one_line(
    app: typer.Typer, env: dict[str, str], photos: dict[str, Path], tmp_path: Path
) -> None:
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(photos["jpeg"].read_bytes()[:500])
    bomb = tmp_path / "bomb.png"
    big = io.BytesIO()
    Image.new("L", (8000, 6000)).save(big, "PNG")  # 48 MP of zeros: a few KB
    bomb.write_bytes(big.getvalue())
    args = ["stage", str(truncated), str(bomb), "--room", "bedroom", "--style", "modern"]
    result = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "o")], env=env)

    assert result.exit_code == 1
    errors = _lines(result.stderr)
    assert len(errors) == 2
    assert errors[0].startswith(str(truncated))
    assert "truncated" in errors[0]
    assert errors[1].startswith(str(bomb))
    assert "8000x6000" in errors[1]


def test_unknown_room_is_one_line_per_file(
    app: typer.Typer, env: dict[str, str], photos: dict[str, Path], tmp_path: Path
) -> None:
    args = ["stage", str(photos["png"]), "--room", "garage", "--style", "modern"]
    result = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "o")], env=env)
    assert result.exit_code == 1
    assert _lines(result.stderr) == [
        f"{photos['png']}: unknown room type 'garage'; valid: "
        + ", ".join(r["code"] for r in catalog_dict()["room_types"])
    ]


def test_missing_model_is_one_clear_line_per_file(
    app: typer.Typer, env: dict[str, str], photos: dict[str, Path], tmp_path: Path
) -> None:
    args = ["stage", str(photos["png"]), str(photos["jpeg"]), "--room", "bedroom"]
    args += ["--style", "modern", "--model", str(tmp_path / "nowhere"), "-o", str(tmp_path / "o")]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 1
    errors = _lines(result.stderr)
    assert len(errors) == 2
    assert all("nowhere" in line and "vstage models pull" in line for line in errors)
    assert "Traceback" not in result.output


def test_variations_use_derived_seeds_and_numbered_names(
    app: typer.Typer, env: dict[str, str], photos: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["stage", str(photos["png"]), "--room", "bedroom", "--style", "bohemian"]
    args += ["--seed", "3", "--variations", "3", "-o", str(out)]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == ["lounge.staged.2.png", "lounge.staged.3.png", "lounge.staged.png"]
    contents = {(out / name).read_bytes() for name in names}
    assert len(contents) == 3


def test_user_mask_option_limits_the_edit(
    app: typer.Typer, env: dict[str, str], photos: dict[str, Path], tmp_path: Path
) -> None:
    mask = np.zeros((256, 384), np.uint8)
    mask[150:, :100] = 255
    mask_path = tmp_path / "mask.png"
    Image.fromarray(mask).save(mask_path)
    out = tmp_path / "out"
    args = ["stage", str(photos["png"]), "--room", "bedroom", "--style", "modern"]
    args += ["--mask", str(mask_path), "--save-mask", "-o", str(out)]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.stderr
    staged = np.asarray(Image.open(out / "lounge.staged.png").convert("RGB"))
    original = np.asarray(Image.open(photos["png"]).convert("RGB"))
    assert np.array_equal(staged[:, 100:], original[:, 100:])
    assert np.array_equal(staged[:150], original[:150])
    assert not np.array_equal(staged[170:, :80], original[170:, :80])


def test_catalog_json_is_the_catalog(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["catalog", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == catalog_dict()
    human = CliRunner().invoke(app, ["catalog"])
    assert "living_room" in human.stdout
    assert "Japandi" in human.stdout


def test_make_tiny_writes_a_model_stage_can_use(
    app: typer.Typer, env: dict[str, str], photos: dict[str, Path], tmp_path: Path
) -> None:
    model_dir = tmp_path / "tiny"
    made = CliRunner().invoke(app, ["models", "make-tiny", str(model_dir)], env=env)
    assert made.exit_code == 0, made.stderr
    assert (model_dir / "model_index.json").is_file()
    assert (model_dir / "controlnet" / "config.json").is_file()
    size = sum(p.stat().st_size for p in model_dir.rglob("*") if p.is_file())
    assert size < 20 * 2**20
    args = ["stage", str(photos["png"]), "--room", "studio", "--style", "modern"]
    args += ["--model", str(model_dir), "-o", str(tmp_path / "out")]
    staged = CliRunner().invoke(app, args, env=env)
    assert staged.exit_code == 0, staged.stderr


def test_models_list_and_pull_work_offline(
    app: typer.Typer, env: dict[str, str], tmp_path: Path
) -> None:
    listing = CliRunner().invoke(app, ["models", "list"], env=env)
    assert listing.exit_code == 0, listing.stderr
    assert env["VSTAGE_MODEL"] in listing.stdout
    assert "local" in listing.stdout

    missing_env = {**env, "VSTAGE_MODEL": "example-org/absent"}
    listing = CliRunner().invoke(app, ["models", "list"], env=missing_env)
    assert "missing (run `vstage models pull example-org/absent`)" in listing.stdout

    pulled = CliRunner().invoke(app, ["models", "pull", "example-org/absent"], env=env)
    assert pulled.exit_code == 1
    assert _lines(pulled.stderr) == [
        "example-org/absent: cannot download example-org/absent: downloads are off "
        "(HF_HUB_OFFLINE=1); run `vstage models pull` on a machine with network access "
        "and copy its HF cache"
    ]
