"""``docs/operations.md`` stays true to the code.

The configuration reference is generated from :class:`vstage.config.Settings`; the
committed copy must equal a fresh render, so adding, renaming or re-defaulting a
setting without regenerating the doc fails here. The rest of the guide is prose, but
the facts it shares with code are checked: the Stripe events it tells operators to
subscribe to are the ones the webhook handles, and every ``vstage`` command it shows
exists with those options.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.deploy.cli_args import BadCommandLine, check_vstage_args
from vstage import config_docs
from vstage.config import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def test_configuration_reference_matches_the_settings_class() -> None:
    committed = doc_text()
    assert committed == config_docs.update_document(committed), (
        "docs/operations.md's configuration reference is out of date with "
        f"vstage.config.Settings; regenerate it with:  {config_docs.REGENERATE}"
    )


def test_configuration_reference_lists_every_setting_once() -> None:
    start, end = doc_text().index(config_docs.START), doc_text().index(config_docs.END)
    block = doc_text()[start:end]
    for name, info in Settings.model_fields.items():
        assert block.count(f"| `{config_docs.env_name(name, info)}` |") == 1, name


def test_every_setting_has_a_description() -> None:
    assert not config_docs.undescribed_fields(), (
        "these settings have no description: give them Field(description=...) in "
        "vstage/config.py or an entry in vstage.config_docs.DESCRIPTIONS, then run "
        f"{config_docs.REGENERATE}"
    )


def test_descriptions_name_only_existing_settings() -> None:
    stale = sorted(config_docs.DESCRIPTIONS.keys() - Settings.model_fields.keys())
    assert not stale, f"vstage.config_docs.DESCRIPTIONS describes removed settings: {stale}"


def test_rendered_rows_show_variable_type_default_and_description() -> None:
    table = config_docs.render_table()
    assert "| `VSTAGE_AUTH_MODE` | `dev` \\| `auth0` | `dev` | `auth0` in production." in table
    assert "| `VSTAGE_S3_ENDPOINT_URL` | str (optional) | unset |" in table
    assert "| `VSTAGE_STEPS` | int, ≥ 1, ≤ 150 | `20` |" in table
    assert "| `VSTAGE_ALLOW_DEV_AUTH` | bool | `false` |" in table


def test_check_mode_reports_a_stale_doc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stale = tmp_path / "operations.md"
    stale.write_text(f"intro\n{config_docs.START}\nold table\n{config_docs.END}\nrest\n")

    assert config_docs.main(["--check", str(stale)]) == 1
    assert config_docs.REGENERATE in capsys.readouterr().err

    assert config_docs.main(["--write", str(stale)]) == 0
    refreshed = stale.read_text()
    assert refreshed.startswith("intro\n")
    assert refreshed.endswith("\nrest\n")
    assert config_docs.main(["--check", str(stale)]) == 0


@pytest.mark.parametrize(
    "heading",
    [
        "Configuration reference",
        "Auth0 setup",
        "Stripe setup",
        "Model choice and licences",
        "GPU sizing",
        "Capacity math",
        "Backups",
        "Upgrades",
        "Scaling",
    ],
)
def test_the_guide_has_the_operator_sections(heading: str) -> None:
    assert re.search(rf"^## {re.escape(heading)}$", doc_text(), re.MULTILINE)


def test_stripe_events_listed_are_the_ones_the_webhook_handles() -> None:
    from vstage.billing.webhooks import HANDLED_TYPES

    section = doc_text().split("## Stripe setup", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\s*- `([a-z_.]+)`$", section, re.MULTILINE))
    assert listed == set(HANDLED_TYPES)
    assert "/v1/billing/webhook" in section


def test_auth0_section_names_the_urls_vstage_uses() -> None:
    from vstage.web.oidc import CALLBACK_PATH

    section = doc_text().split("## Auth0 setup", 1)[1].split("\n## ", 1)[0]
    assert f"{{VSTAGE_PUBLIC_URL}}{CALLBACK_PATH}" in section
    assert "RS256" in section
    assert "vstage users set-role" in section


def test_capacity_math_says_plainly_what_is_not_measured_yet() -> None:
    section = doc_text().split("## Capacity math", 1)[1].split("\n## ", 1)[0]
    assert "to be measured by `benchmarks/fleet.py`" in section
    sizing = doc_text().split("## GPU sizing", 1)[1].split("\n## ", 1)[0]
    assert "estimate" in sizing.lower()


def doc_commands() -> list[str]:
    """``vstage …`` lines inside the guide's fenced code blocks."""
    commands: list[str] = []
    in_block = False
    for line in doc_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            in_block = not in_block
        elif in_block and stripped.startswith("vstage "):
            commands.append(stripped)
    return commands


def test_the_guide_shows_vstage_commands() -> None:
    assert {shlex.split(c)[1] for c in doc_commands()} >= {"users", "plans", "billing"}


@pytest.mark.parametrize("command", doc_commands())
def test_every_vstage_command_in_the_guide_exists(command: str) -> None:
    try:
        check_vstage_args(shlex.split(command)[1:])
    except BadCommandLine as exc:
        pytest.fail(f"docs/operations.md shows `{command}`: {exc}")
