"""Loading of the optional transformers models (depth, segmentation) beside diffusion.

Both load the same way: processor + model from a local folder or the HF cache only when
offline, so a model that is not there is a :class:`ModelNotFound` naming the command that
fetches it, never a network hang.
"""

from __future__ import annotations

from typing import Any

from vstage.staging.backend import ModelNotFound, load_module, offline


def load_processor_and_model(
    model_id: str, auto_model: str, kind: str, device: str
) -> tuple[Any, Any]:
    """``auto_model`` names the transformers Auto class, e.g. ``AutoModelForDepthEstimation``."""
    transformers = load_module("transformers")
    load_module("transformers.utils.logging").disable_progress_bar()
    local_only = offline()
    try:
        processor = transformers.AutoImageProcessor.from_pretrained(
            model_id, local_files_only=local_only
        )
        model = getattr(transformers, auto_model).from_pretrained(
            model_id, local_files_only=local_only
        )
    except (OSError, ValueError) as exc:
        raise ModelNotFound(
            f"{kind} model {model_id} is not available ({exc}); "
            f"fetch it with `vstage models pull {model_id}`",
            model=model_id,
        ) from None
    model.eval().to(device)
    return processor, model
