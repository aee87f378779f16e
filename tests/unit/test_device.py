"""DEVICE=auto|cpu|cuda: which device and which ONNX Runtime providers a model gets."""

from __future__ import annotations

import pytest

from processors.device import (
    CPU_PROVIDER,
    CUDA_PROVIDER,
    DeviceError,
    choose,
    onnx_device_providers,
    onnx_providers,
    whisper_compute,
)
from processors.settings import ProcessorSettings


def test_auto_takes_the_gpu_only_when_one_is_visible() -> None:
    assert choose("auto", cuda_visible=True) == "cuda"
    assert choose("auto", cuda_visible=False) == "cpu"
    assert choose("cpu", cuda_visible=True) == "cpu"
    assert choose("cuda", cuda_visible=True) == "cuda"


def test_cuda_without_a_gpu_is_a_clear_error() -> None:
    with pytest.raises(DeviceError, match="no CUDA device is visible"):
        choose("cuda", cuda_visible=False)


def test_onnx_runtime_prefers_its_cuda_provider_and_keeps_the_cpu_one() -> None:
    assert onnx_providers("cuda", [CUDA_PROVIDER, CPU_PROVIDER]) == [CUDA_PROVIDER, CPU_PROVIDER]
    # The CPU-only onnxruntime wheel has no CUDA provider: a GPU machine still runs, on the CPU.
    assert onnx_providers("cuda", [CPU_PROVIDER]) == [CPU_PROVIDER]
    assert onnx_providers("cpu", [CUDA_PROVIDER, CPU_PROVIDER]) == [CPU_PROVIDER]


def test_whisper_runs_float16_on_a_gpu_and_int8_on_the_cpu() -> None:
    assert whisper_compute("cuda") == ("cuda", "float16")
    assert whisper_compute("cpu") == ("cpu", "int8")


def test_this_machine_resolves_auto_with_the_installed_runtime() -> None:
    import onnxruntime as ort

    providers = onnx_device_providers("auto")
    assert providers[-1] == CPU_PROVIDER
    assert (CUDA_PROVIDER in providers) == (CUDA_PROVIDER in ort.get_available_providers())


def test_the_setting_is_validated() -> None:
    assert ProcessorSettings().device == "auto"
    assert ProcessorSettings(DEVICE="cpu").device == "cpu"
    with pytest.raises(ValueError, match="DEVICE"):
        ProcessorSettings(DEVICE="tpu")
