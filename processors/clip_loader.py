"""Loading CLIP for the scene processor: label embeddings once at start, then the CLIP_BACKEND image encoder.

With ``CLIP_BACKEND=onnx`` and the exported files present (``processors.clip_cache``), neither torch nor
transformers is imported: the processor holds an int8 ONNX vision tower and a small matrix of label embeddings.
"""

from __future__ import annotations

import logging
from pathlib import Path

from processors import clip_cache
from processors.imageprep import PixelSpec
from processors.models import require, weights_version
from processors.scene import ClipScene, PromptSet, label_embeddings, load_prompt_set
from processors.settings import ProcessorSettings
from schemas.records import ModelInfo

log = logging.getLogger(__name__)


def _compute(model_dir: Path, prompt_set: PromptSet, backend: str, onnx_file: Path, settings: ProcessorSettings):  # type: ignore[no-untyped-def]
    """(label cache, encoder) from the torch checkpoint; for onnx the vision tower is exported on the way."""
    import torch
    from transformers import CLIPModel, CLIPProcessor

    from processors.clip_backends import make_encoder

    torch.set_num_threads(settings.torch_num_threads)
    processor = CLIPProcessor.from_pretrained(model_dir)
    model = CLIPModel.from_pretrained(model_dir).eval()
    prompts = [p for label in prompt_set.labels for p in label.prompts]
    with torch.inference_mode():
        max_len = model.config.text_config.max_position_embeddings
        tokens = processor.tokenizer(prompts, padding=True, truncation=True, max_length=max_len, return_tensors="pt")
        text = model.text_projection(model.text_model(**tokens).pooler_output).float().numpy()
    cache = clip_cache.LabelCache(
        text_embeds=label_embeddings(text, prompt_set),
        logit_scale=float(model.logit_scale.detach().exp().item()),
        pixel_spec=PixelSpec.from_image_processor(processor.image_processor),
    )
    return cache, make_encoder(model, backend, onnx_file, settings.torch_num_threads, settings.device)


def load_clip(settings: ProcessorSettings) -> ClipScene:
    entry = require(settings, "clip")
    assert entry.path is not None and entry.weights is not None
    backend = settings.clip_backend
    prompt_set = load_prompt_set(settings.prompts_file)
    version = weights_version(entry.weights)
    info = ModelInfo(name=entry.model_id, version=f"{version}+{backend}")
    onnx_file = clip_cache.vision_path(entry.path, version)
    labels_file = clip_cache.labels_path(entry.path, version, prompt_set)
    cache = clip_cache.load(labels_file) if backend == "onnx" and onnx_file.is_file() else None
    if cache is not None:
        from processors.clip_backends import onnx_encoder

        encoder = onnx_encoder(onnx_file, settings.torch_num_threads, settings.device)
    else:
        cache, encoder = _compute(entry.path, prompt_set, backend, onnx_file, settings)
        if backend == "onnx":
            clip_cache.save(labels_file, cache)
    log.info("CLIP %s ready (%d labels, backend %s)", info.version, len(prompt_set.labels), backend)
    return ClipScene(
        info=info,
        prompt_set=prompt_set,
        text_embeds=cache.text_embeds,
        logit_scale=cache.logit_scale,
        pixel_spec=cache.pixel_spec,
        encoder=encoder,
    )
