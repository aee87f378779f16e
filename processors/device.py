"""Where the models run: ``DEVICE=auto|cpu|cuda``. ``auto`` takes the GPU when the runtime sees one.

What uses it: CLIP (torch fp32 on the device; ONNX Runtime with its CUDA provider first when that provider is
installed), BLIP (torch fp32) and Whisper (CTranslate2: float16 on CUDA, int8 on CPU). The int8 torch variants
(dynamic quantisation) and the MediaPipe pose landmarker (the Python wheel runs TFLite on CPU) stay on the CPU,
and so does the small intent encoder.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from anomaly_core.settings import DeviceSetting

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"


class DeviceError(ValueError):
    """``DEVICE=cuda`` on a machine whose runtime sees no GPU."""


def choose(setting: DeviceSetting, *, cuda_visible: bool) -> Literal["cpu", "cuda"]:
    """The device a model runs on. Pure."""
    if setting == "cpu":
        return "cpu"
    if cuda_visible:
        return "cuda"
    if setting == "cuda":
        raise DeviceError("DEVICE=cuda but no CUDA device is visible to this process (DEVICE=auto falls back to CPU)")
    return "cpu"


def onnx_providers(device: str, available: Sequence[str]) -> list[str]:
    """ONNX Runtime execution providers in order of preference. Pure."""
    if device == "cuda" and CUDA_PROVIDER in available:
        return [CUDA_PROVIDER, CPU_PROVIDER]
    return [CPU_PROVIDER]


def whisper_compute(device: str) -> tuple[str, str]:
    """(device, compute type) for faster-whisper. Pure."""
    return ("cuda", "float16") if device == "cuda" else ("cpu", "int8")


def torch_device(setting: DeviceSetting) -> Literal["cpu", "cuda"]:
    if setting == "cpu":
        return "cpu"
    import torch

    return choose(setting, cuda_visible=torch.cuda.is_available())


def ctranslate2_device(setting: DeviceSetting) -> Literal["cpu", "cuda"]:
    if setting == "cpu":
        return "cpu"
    import ctranslate2

    return choose(setting, cuda_visible=ctranslate2.get_cuda_device_count() > 0)


def onnx_device_providers(setting: DeviceSetting) -> list[str]:
    if setting == "cpu":
        return [CPU_PROVIDER]
    import onnxruntime as ort

    available = ort.get_available_providers()
    device = choose(setting, cuda_visible=CUDA_PROVIDER in available)
    return onnx_providers(device, available)
