"""Prometheus metrics of the queue, recorded by workers.

Queue depth by status and type and the oldest queued job's age are computed from the
database at scrape time (:mod:`vstage.observability.collectors`); these are the
per-process ones a worker exposes (``vstage worker --metrics-port``).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

JOBS_CLAIMED = Counter("vstage_jobs_claimed_total", "Jobs claimed by this worker", ["type"])
JOB_DURATION = Histogram(
    "vstage_job_duration_seconds",
    "Time from claim to outcome, by job type and outcome",
    ["type", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)
JOB_QUEUE_WAIT = Histogram(
    "vstage_job_queue_wait_seconds",
    "Time a job waited between becoming due and being claimed",
    ["type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
JOB_FAILURES = Counter(
    "vstage_job_failures_total",
    "Failed job attempts by type and kind (transient: retried; final: job failed)",
    ["type", "kind"],
)
JOBS_RESCUED = Counter(
    "vstage_jobs_rescued_total",
    "Jobs taken back from workers that stopped heartbeating",
    ["outcome"],
)
JOBS_RUNNING = Gauge("vstage_worker_jobs_running", "Jobs this process is running now")
