"""Tiny random ControlNet-inpaint pipelines for tests and smoke runs.

They are built from diffusers' and transformers' own classes with real (tiny) configs and
saved with ``save_pretrained``, so loading one exercises exactly the code path that loads
real weights. The output is noise, but shapes, dtypes, schedulers, callbacks and seeding
all behave as with a real model. Building is seeded: the same call writes the same weights.

``vstage models make-tiny DIR`` writes one; ``vstage stage --model DIR`` then runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from vstage.staging.backend import load_module

Family = Literal["sd15", "sdxl"]

#: Token embedding width of the tiny CLIP text encoders.
_TEXT_WIDTH = 32


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP's reversible byte → printable-unicode table (as in the original BPE code)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def byte_level_vocab() -> dict[str, int]:
    """A 514-token CLIP vocabulary: every byte, every byte ending a word, and the two specials.

    With no merges, any text tokenizes (one token per byte), so prompts of any language
    work offline without the 49k-token CLIP vocabulary.
    """
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["<|startoftext|>", "<|endoftext|>"]
    return {token: index for index, token in enumerate(tokens)}


def _tokenizer() -> Any:
    return load_module("transformers").CLIPTokenizer(
        vocab=byte_level_vocab(), merges=[], model_max_length=77
    )


def _text_config(vocab_size: int) -> Any:
    return load_module("transformers").CLIPTextConfig(
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
        hidden_size=_TEXT_WIDTH,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=4,
        num_hidden_layers=2,
        vocab_size=vocab_size,
        max_position_embeddings=77,
        projection_dim=_TEXT_WIDTH,
        hidden_act="gelu",
    )


def _vae() -> Any:
    # Four blocks → a scale factor of 8, matching the ControlNet conditioning embedding.
    return load_module("diffusers").AutoencoderKL(
        block_out_channels=(8, 16, 16, 16),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        norm_num_groups=8,
        layers_per_block=1,
        sample_size=64,
    )


def _unet_kwargs(family: Family) -> dict[str, Any]:
    common: dict[str, Any] = {
        "block_out_channels": (32, 64),
        "layers_per_block": 1,
        "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
        "norm_num_groups": 16,
    }
    if family == "sdxl":
        common.update(
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            transformer_layers_per_block=(1, 1),
            # pooled text embedding (32) + 6 micro-conditioning ids x 8
            projection_class_embeddings_input_dim=_TEXT_WIDTH + 6 * 8,
            cross_attention_dim=2 * _TEXT_WIDTH,
        )
    else:
        common.update(attention_head_dim=8, cross_attention_dim=_TEXT_WIDTH)
    return common


def build_tiny_pipeline(family: Family = "sd15", seed: int = 0) -> Any:
    """Build (not save) a tiny random ControlNet inpaint pipeline of ``family``."""
    torch = load_module("torch")
    diffusers = load_module("diffusers")
    transformers = load_module("transformers")
    torch.manual_seed(seed)
    kwargs = _unet_kwargs(family)
    unet = diffusers.UNet2DConditionModel(
        sample_size=32,
        in_channels=9,  # latents + masked-image latents + mask
        out_channels=4,
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        **kwargs,
    )
    # Built directly with 4 input channels: ControlNetModel.from_unet(inpaint_unet) would
    # inherit 9 and crash, because the pipeline feeds the ControlNet plain latents.
    controlnet = diffusers.ControlNetModel(
        in_channels=4, conditioning_embedding_out_channels=(8, 16, 16, 16), **kwargs
    )
    vae = _vae()
    vocab_size = len(byte_level_vocab())
    scheduler = diffusers.UniPCMultistepScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1
    )
    if family == "sdxl":
        return diffusers.StableDiffusionXLControlNetInpaintPipeline(
            vae=vae,
            text_encoder=transformers.CLIPTextModel(_text_config(vocab_size)),
            text_encoder_2=transformers.CLIPTextModelWithProjection(_text_config(vocab_size)),
            tokenizer=_tokenizer(),
            tokenizer_2=_tokenizer(),
            unet=unet,
            controlnet=controlnet,
            scheduler=scheduler,
            requires_aesthetics_score=False,
            force_zeros_for_empty_prompt=True,
            add_watermarker=False,
        )
    return diffusers.StableDiffusionControlNetInpaintPipeline(
        vae=vae,
        text_encoder=transformers.CLIPTextModel(_text_config(vocab_size)),
        tokenizer=_tokenizer(),
        unet=unet,
        controlnet=controlnet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def make_tiny_pipeline(directory: str | Path, family: Family = "sd15", seed: int = 0) -> Path:
    """Write a tiny random pipeline (with its ``controlnet/`` subfolder) into ``directory``.

    The result is a normal diffusers pipeline folder a few MB in size; point
    ``VSTAGE_MODEL`` or ``--model`` at it.
    """
    if family not in ("sd15", "sdxl"):
        raise ValueError(f"unknown family {family!r}: use sd15 or sdxl")
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    pipe = build_tiny_pipeline(family, seed=seed)
    pipe.save_pretrained(target, safe_serialization=True)
    return target
