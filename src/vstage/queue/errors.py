"""Which failures are worth retrying, and what the user is told about them.

A job fails *permanently* when running it again cannot succeed: the input is bad,
the file it needs is gone, the model is missing. Everything else (a flaky network,
an out-of-memory, a database hiccup, a crash) is *transient* and retried with
backoff. Guessing "transient" when unsure is the safe side: the cost is a few wasted
attempts, while a wrong "permanent" fails a job a retry would have finished.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from datetime import timedelta

from pydantic import ValidationError

from vstage.errors import VstageError
from vstage.storage.base import ObjectNotFound
from vstage.storage.keys import InvalidKey

#: ``VstageError.code`` values that describe the input, not the moment: retrying is futile.
PERMANENT_CODES = frozenset(
    {
        "invalid_input",
        "unsupported_media_type",
        "payload_too_large",
        "not_found",
        "model_not_found",
    }
)

#: What a user reads when the workers lack the model (the operator's fix goes to the job).
MODEL_MISSING_MESSAGE = (
    "the staging model is not available on the workers right now; "
    "any charge for this image was refunded — please try again later"
)

#: Longest error text kept on a job row (the full traceback goes to the log).
MAX_ERROR_CHARS = 4000


class PermanentJobError(Exception):
    """Raised by a handler when retrying cannot help; the job fails at once.

    ``user_message`` is what the image's owner reads; it defaults to ``message``, so
    write messages a customer can understand ("the photo is not a JPEG, PNG, …").
    """

    def __init__(self, message: str, *, user_message: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.user_message = user_message or message


class RetryJobLater(Exception):
    """Raised by a handler that keeps its own retry schedule (webhook deliveries): this
    attempt failed, run the job again after ``delay`` instead of the queue's backoff.
    The job still fails for good once its ``max_attempts`` are used up."""

    def __init__(self, message: str, *, delay: timedelta) -> None:
        super().__init__(message)
        self.delay = max(delay, timedelta(0))


@dataclass(frozen=True)
class Failure:
    """A classified handler failure.

    ``error`` is for operators (kept on the job row); ``user_message`` for the
    image's owner, set only when the cause is something they can act on.
    """

    permanent: bool
    error: str
    user_message: str | None = None
    retry_after: timedelta | None = None  # the handler's own delay (RetryJobLater)


def describe(exc: BaseException) -> str:
    """``Type: message`` plus the innermost traceback frames, capped for the row."""
    head = f"{type(exc).__name__}: {exc}".rstrip(": ")
    frames = traceback.format_exception(exc)
    tail = "".join(frames[-4:]) if exc.__traceback__ is not None else ""
    text = f"{head}\n\n{tail}".rstrip() if tail else head
    return text[:MAX_ERROR_CHARS]


def classify(exc: BaseException) -> Failure:
    """Decide permanent vs transient for an exception a handler raised."""
    if isinstance(exc, PermanentJobError):
        return Failure(True, describe(exc), exc.user_message)
    if isinstance(exc, RetryJobLater):
        return Failure(False, str(exc)[:MAX_ERROR_CHARS], retry_after=exc.delay)
    if isinstance(exc, VstageError) and exc.code == "model_not_found":
        return Failure(True, describe(exc), MODEL_MISSING_MESSAGE)
    if isinstance(exc, VstageError) and exc.code in PERMANENT_CODES:
        return Failure(True, describe(exc), exc.message)
    if isinstance(exc, ValidationError):
        return Failure(True, describe(exc), "the job's parameters are invalid")
    if isinstance(exc, ObjectNotFound | InvalidKey):
        return Failure(True, describe(exc), "a file this image needs is missing")
    return Failure(False, describe(exc))


def final_user_message(failure: Failure, attempts: int) -> str:
    """What the owner reads on the image once the job has finally failed."""
    if failure.user_message:
        return failure.user_message
    plural = "s" if attempts != 1 else ""
    return (
        f"processing failed after {attempts} attempt{plural}; "
        "any charge for this image was refunded — please try again"
    )
