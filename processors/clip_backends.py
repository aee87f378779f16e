"""CLIP image encoders: torch fp32 (the reference), torch dynamic int8, and ONNX Runtime int8.

All three map a float32 NCHW batch to unnormalised image embeddings. The ONNX model is exported from the
loaded checkpoint on first use and cached next to it, keyed by the weights version.

Dynamic int8 quantises activations with one scale per tensor, i.e. per batch: a frame's score would depend on
which other cameras' frames shared its batch, and a replay would not reproduce it. The int8 encoders therefore
run frame by frame (``PerImage``); fp32 results do not depend on the batch beyond float rounding.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from processors.device import DeviceSetting, onnx_device_providers, torch_device
from processors.models import ModelMissingError
from processors.quant import quantize_linear

log = logging.getLogger(__name__)


class TorchEncoder:
    def __init__(self, vision: Any, projection: Any, device: str = "cpu") -> None:
        self.vision = vision.to(device)
        self.projection = projection.to(device)
        self.device = device

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            pooled = self.vision(pixel_values=torch.from_numpy(pixels).to(self.device)).pooler_output
            out: np.ndarray = self.projection(pooled).float().cpu().numpy()
        return out


class PerImage:
    """Runs an encoder one frame at a time so results do not depend on batch composition."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        return np.concatenate([self.encoder(pixels[i : i + 1]) for i in range(len(pixels))])


def _vision_tower(model: Any) -> Any:
    """CLIP's vision transformer and projection as one module (what gets quantised or exported)."""
    import torch

    class VisionTower(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.vision = model.vision_model
            self.projection = model.visual_projection

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.projection(self.vision(pixel_values=pixel_values).pooler_output)

    return VisionTower().eval()


def torch_int8(model: Any) -> TorchEncoder:
    """The vision tower with int8 Linear layers (see ``processors.quant``)."""
    tower = quantize_linear(_vision_tower(model))
    return TorchEncoder(tower.vision, tower.projection)


class OnnxEncoder:
    def __init__(self, path: Path, threads: int, providers: Sequence[str] = ("CPUExecutionProvider",)) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), opts, providers=list(providers))

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.session.run(None, {"pixel_values": pixels})[0]
        return out


def export_onnx_int8(model: Any, target: Path, image_size: int) -> None:
    """torch.onnx.export of the vision tower, then ONNX Runtime dynamic int8 quantisation (needs ``onnx``)."""
    import torch

    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:  # onnxruntime.quantization imports the onnx package
        raise ModelMissingError(
            f"{target} is not exported yet and exporting needs the `onnx` package: install it, copy the onnx/ "
            "folder from a machine that has exported it, or use CLIP_BACKEND=torch-int8"
        ) from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        fp32 = Path(tmp) / "vision_fp32.onnx"
        dummy = torch.zeros(1, 3, image_size, image_size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _vision_tower(model),
                (dummy,),
                str(fp32),
                input_names=["pixel_values"],
                output_names=["image_embeds"],
                opset_version=17,
                dynamo=False,
                dynamic_axes={"pixel_values": {0: "batch"}, "image_embeds": {0: "batch"}},
            )
        int8 = Path(tmp) / "vision_int8.onnx"
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        int8.replace(target)  # atomic: a concurrent replica never sees half a file


def make_encoder(model: Any, backend: str, onnx_file: Path, threads: int, device: DeviceSetting = "cpu") -> Any:
    """The image encoder for ``CLIP_BACKEND`` (for onnx: exported to ``onnx_file`` unless it is there)."""
    if backend == "torch":
        return TorchEncoder(model.vision_model, model.visual_projection, torch_device(device))
    if backend == "torch-int8":
        return PerImage(torch_int8(model))
    if backend == "onnx":
        if not onnx_file.is_file():
            log.info("exporting the CLIP vision tower to %s (once per weights version)", onnx_file)
            export_onnx_int8(model, onnx_file, int(model.config.vision_config.image_size))
        return onnx_encoder(onnx_file, threads, device)
    raise ValueError(f"unknown CLIP_BACKEND {backend!r}")


def onnx_encoder(onnx_file: Path, threads: int, device: DeviceSetting = "cpu") -> PerImage:
    return PerImage(OnnxEncoder(onnx_file, threads, onnx_device_providers(device)))
