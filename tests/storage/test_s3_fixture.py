"""The SeaweedFS fixture fails loudly and usefully when the server cannot start."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.fixtures.s3 import run_seaweedfs


def _fake_weed(tmp_path: Path, script: str) -> Path:
    binary = tmp_path / "weed"
    binary.write_text(f"#!/bin/sh\n{script}\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


def test_a_weed_that_dies_is_reported_with_its_log(tmp_path: Path) -> None:
    binary = _fake_weed(tmp_path, 'echo "F master.go:212 disk on fire" >&2; exit 3')
    with pytest.raises(pytest.fail.Exception) as failed, run_seaweedfs(binary):
        pass
    message = str(failed.value)
    assert "did not start: weed exited with status 3" in message
    assert "disk on fire" in message


def test_a_weed_that_never_answers_times_out_with_its_log(tmp_path: Path) -> None:
    binary = _fake_weed(tmp_path, 'echo "still booting"; exec sleep 60')
    with pytest.raises(pytest.fail.Exception) as failed, run_seaweedfs(binary, timeout_s=1):
        pass
    message = str(failed.value)
    assert "S3 not ready in time" in message
    assert "still booting" in message
