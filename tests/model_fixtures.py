"""Tiny randomly initialised CLIP and BLIP checkpoints, saved like hub checkpoints into a temp MODEL_CACHE_DIR.

Tokenizers are built from hand-made vocabularies (no downloads) and everything is written with
``save_pretrained``, so the processors load them through exactly the code path real weights take.
Import the fixtures from a test module: ``from tests.model_fixtures import tiny_model_cache, tiny_settings``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.settings import ProcessorSettings

TINY_CLIP = "tiny/clip"
TINY_BLIP = "tiny/blip"
_WORDS = ["a", "person", "man", "woman", "on", "the", "floor", "lying", "standing", "fire", "room", "in", "of"]


def build_tiny_clip(target: Path) -> Path:
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    # Byte-level BPE without merges: every byte is a token, enough for any prompt text.
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in sorted(ByteLevel.alphabet()):
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = CLIPConfig(
        text_config={
            **small,
            "vocab_size": len(vocab),
            "max_position_embeddings": 77,
            "bos_token_id": 0,
            "eos_token_id": 1,
            "pad_token_id": 1,
        },
        vision_config={**small, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(target)
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(target)
    return target


def build_tiny_blip(target: Path) -> Path:
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    target.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
    vocab = specials + _WORDS + [chr(c) for c in range(ord("a"), ord("z") + 1) if chr(c) not in _WORDS]
    (target / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tokenizer = BertTokenizer(vocab_file=str(target / "vocab.txt"), bos_token="[DEC]")
    (target / "vocab.txt").unlink()  # save_pretrained writes the tokenizer files it needs
    small = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = BlipConfig(
        text_config={
            **small,
            "vocab_size": len(vocab),
            "encoder_hidden_size": 32,
            "max_position_embeddings": 64,
            "bos_token_id": vocab.index("[DEC]"),
            "pad_token_id": 0,
            "sep_token_id": 3,
            "eos_token_id": 3,
        },
        vision_config={**small, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    BlipForConditionalGeneration(config).save_pretrained(target)
    BlipProcessor(
        image_processor=BlipImageProcessor(size={"height": 32, "width": 32}), tokenizer=tokenizer
    ).save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def tiny_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A MODEL_CACHE_DIR holding tiny CLIP and BLIP checkpoints (built once per test session, ~2 s)."""
    cache = tmp_path_factory.mktemp("models")
    build_tiny_clip(cache / TINY_CLIP)
    build_tiny_blip(cache / TINY_BLIP)
    return cache


@pytest.fixture(scope="session")
def tiny_settings(tiny_model_cache: Path) -> ProcessorSettings:
    return ProcessorSettings(
        model_cache_dir=tiny_model_cache,
        clip_model=TINY_CLIP,
        blip_model=TINY_BLIP,
        torch_num_threads=1,
        scene_max_wait_ms=20,
    )


def wav_bytes(samples: object, rate: int = 16_000) -> bytes:
    """Float samples in [-1, 1] as 16-bit PCM WAV bytes (what the audio producer stores)."""
    import numpy as np

    from producers.audio import encode_wav

    pcm = np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0) * 32767.0
    return encode_wav(pcm.astype(np.int16), rate)


def speech_wav(text: str, rate: int = 16_000) -> bytes:
    """espeak-ng speech as a 16 kHz mono WAV; skips the test when espeak-ng is not installed."""
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (scripts/bootstrap-system.sh installs it)")
    from producers.samples import synthesize_speech

    return wav_bytes(synthesize_speech(text, rate), rate)
