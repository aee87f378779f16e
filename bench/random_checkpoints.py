"""Randomly initialised CLIP and BLIP checkpoints saved exactly like hub checkpoints, without any download.

Tests save tiny ones and benchmarks full-size ones (the transformers default configs: CLIP ViT-B/32 and BLIP
base dimensions) into a MODEL_CACHE_DIR, so both load them through the processors' own loaders. Tokenizers are
built from generated vocabularies: byte-level BPE without merges for CLIP, a WordPiece vocabulary for BLIP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
_WORDS = ["a", "person", "man", "woman", "on", "the", "floor", "lying", "standing", "fire", "room", "in", "of"]


def save_random_clip(target: Path, *, tiny: bool) -> Path:
    import torch
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    byte_tokens = [t for ch in sorted(ByteLevel.alphabet()) for t in (ch, ch + "</w>")]
    vocab = {token: i for i, token in enumerate(byte_tokens)}
    if tiny:
        text: dict[str, Any] = {**_TINY, "vocab_size": len(vocab) + 2, "max_position_embeddings": 77}
        config = CLIPConfig(
            text_config=text, vision_config={**_TINY, "image_size": 32, "patch_size": 8}, projection_dim=16
        )
        images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    else:
        config, images = CLIPConfig(), CLIPImageProcessor()
    text_config: Any = config.text_config
    bos = text_config.bos_token_id if not tiny else len(vocab)
    eos = text_config.eos_token_id if not tiny else len(vocab) + 1
    text_config.bos_token_id, text_config.eos_token_id, text_config.pad_token_id = bos, eos, eos
    vocab.update({"<|startoftext|>": bos, "<|endoftext|>": eos})
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(target)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(target)
    return target


def _blip_vocab(size: int, specials: dict[int, str]) -> list[str]:
    fill = iter(_WORDS + [chr(c) for c in range(ord("a"), ord("z") + 1) if chr(c) not in _WORDS])
    return [specials.get(i) or next(fill, f"[unused{i}]") for i in range(size)]


def save_random_blip(target: Path, *, tiny: bool) -> Path:
    import torch
    from transformers import BertTokenizer, BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    if tiny:
        text: dict[str, Any] = {
            **_TINY,
            "vocab_size": 48,
            "encoder_hidden_size": 32,
            "max_position_embeddings": 64,
            "bos_token_id": 5,
            "pad_token_id": 0,
            "sep_token_id": 3,
            "eos_token_id": 3,
        }
        config = BlipConfig(
            text_config=text, vision_config={**_TINY, "image_size": 32, "patch_size": 8}, projection_dim=16
        )
        images = BlipImageProcessor(size={"height": 32, "width": 32})
    else:
        config, images = BlipConfig(), BlipImageProcessor()
    tc: Any = config.text_config
    specials = (
        {
            tc.pad_token_id: "[PAD]",
            tc.sep_token_id: "[SEP]",
            tc.bos_token_id: "[DEC]",
            1: "[UNK]",
            2: "[CLS]",
            4: "[MASK]",
        }
        if tiny
        else {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]", tc.bos_token_id: "[DEC]"}
    )
    target.mkdir(parents=True, exist_ok=True)
    vocab_file = target / "vocab.txt"
    vocab_file.write_text("\n".join(_blip_vocab(tc.vocab_size, specials)) + "\n")
    tokenizer = BertTokenizer(vocab_file=str(vocab_file), bos_token="[DEC]")  # noqa: S106 (a token, not a password)
    vocab_file.unlink()  # save_pretrained writes the tokenizer files it needs
    torch.manual_seed(0)
    BlipForConditionalGeneration(config).save_pretrained(target)
    BlipProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(target)
    return target
