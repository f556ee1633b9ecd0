"""A fleet of real processes keeps every promise while workers die (DESIGN §2, §4).

The short version of ``benchmarks/fleet.py``: PostgreSQL, SeaweedFS, 2 API processes,
3 worker processes with a tiny diffusers model; one worker SIGKILLed mid-job and one
SIGTERMed and restarted while 30 photos of several users are uploaded through both APIs.
"""

from __future__ import annotations

from benchmarks.fleet import run_fleet


def test_every_image_is_staged_and_charged_exactly_once_despite_killed_workers() -> None:
    result = run_fleet(n_images=30, n_users=5, timeout_s=240)
    assert result.killed_mid_job, "the SIGKILL should hit a worker while a job was running"
    assert result.ready == 30, result.notes
    assert result.failed == 0, result.notes
    assert result.stuck == 0, "no job may be left queued or processing"
    assert result.duplicates == 0, "each image completed by exactly one job"
    assert result.charged_ok, result.notes
    assert result.orphans == 0, "every stored object belongs to an image row"
    assert result.missing_files == 0, "every image has its original, staged file and mask"
