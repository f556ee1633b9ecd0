"""The job queue: the ``jobs`` table is the queue (DESIGN §2).

Producers call :func:`enqueue` inside their own transaction, so a job exists exactly
when the rows it works on do. Workers (:class:`Worker`; ``vstage worker``; one
in-process worker in embedded mode) claim jobs with ``FOR UPDATE SKIP LOCKED``,
heartbeat while they run them, and hand them to the handler registered for the job's
``type`` (:func:`handler`). Delivery is at-least-once; every state change a worker
makes is conditional on it still owning the job, so a job is completed, failed or
refunded once even when a presumed-dead worker comes back.
"""

from vstage.queue.context import JobContext, JobResult
from vstage.queue.enqueue import enqueue
from vstage.queue.errors import PermanentJobError, RetryJobLater
from vstage.queue.registry import HandlerRegistry, default_registry, handler
from vstage.queue.worker import Worker

__all__ = [
    "HandlerRegistry",
    "JobContext",
    "JobResult",
    "PermanentJobError",
    "RetryJobLater",
    "Worker",
    "default_registry",
    "enqueue",
    "handler",
]
