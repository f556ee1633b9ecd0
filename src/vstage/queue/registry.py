"""Job handlers, registered by job type with a typed (pydantic) payload.

A handler module registers its handlers on import::

    class StagePayload(BaseModel):
        seed: int

    @handler("stage_image", StagePayload, gpu=True)
    async def stage_image(ctx: JobContext, payload: StagePayload) -> JobResult: ...

Workers import :data:`BUILTIN_HANDLER_MODULES` plus any ``--handlers-module`` given on
the command line, then run whatever the registry holds. A job whose type has no handler
fails at once with an error naming the type.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from vstage.queue.context import JobContext, JobResult

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

HandlerOutput = JobResult | Mapping[str, Any] | None
HandlerFn = Callable[[JobContext, M], Awaitable[HandlerOutput]]

#: Modules holding the product's own handlers (``stage_image``, ``declutter``, …).
BUILTIN_HANDLER_MODULES: tuple[str, ...] = ("vstage.staging.handlers", "vstage.webhooks.handler")


@dataclass(frozen=True)
class HandlerSpec(Generic[M]):
    """One registered job type."""

    job_type: str
    payload_model: type[M]
    fn: HandlerFn[M]
    gpu: bool = False

    async def run(self, ctx: JobContext, payload: Mapping[str, Any]) -> JobResult:
        """Validate the payload (a mismatch is a permanent failure) and run the handler."""
        model = self.payload_model.model_validate(payload)
        output = await self.fn(ctx, model)
        if output is None:
            return JobResult()
        if isinstance(output, JobResult):
            return output
        return JobResult(data=dict(output))


class HandlerRegistry:
    """Maps job type → handler. Workers take one; most code uses :data:`default_registry`."""

    def __init__(self) -> None:
        self._specs: dict[str, HandlerSpec[Any]] = {}

    def register(
        self, job_type: str, payload_model: type[M], fn: HandlerFn[M], *, gpu: bool = False
    ) -> None:
        """Register ``fn`` for ``job_type``; registering a *different* function twice is a bug."""
        existing = self._specs.get(job_type)
        if existing is not None and (
            existing.fn.__module__,
            existing.fn.__qualname__,
        ) != (fn.__module__, fn.__qualname__):
            raise ValueError(f"job type {job_type!r} already has a handler: {existing.fn!r}")
        self._specs[job_type] = HandlerSpec(job_type, payload_model, fn, gpu)

    def handler(
        self, job_type: str, payload_model: type[M], *, gpu: bool = False
    ) -> Callable[[HandlerFn[M]], HandlerFn[M]]:
        """Decorator form of :meth:`register`. ``gpu=True``: one at a time per device."""

        def decorate(fn: HandlerFn[M]) -> HandlerFn[M]:
            self.register(job_type, payload_model, fn, gpu=gpu)
            return fn

        return decorate

    def get(self, job_type: str) -> HandlerSpec[Any] | None:
        return self._specs.get(job_type)

    def types(self) -> list[str]:
        return sorted(self._specs)


default_registry = HandlerRegistry()
handler = default_registry.handler


def load_handler_modules(modules: Iterable[str]) -> None:
    """Import modules that register handlers (a missing module is an error)."""
    for name in modules:
        importlib.import_module(name)


def load_builtin_handlers() -> None:
    """Import the product's handler modules.

    A built-in module that is absent from this installation is skipped with a warning
    (jobs of its types then fail with "no handler"), any other import error is raised.
    """
    for name in BUILTIN_HANDLER_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            log.warning("handler module %s is not installed; its job types cannot run", name)
