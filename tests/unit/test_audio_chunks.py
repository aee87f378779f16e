import itertools

import numpy as np
import pytest

from producers.audio import AudioChunker, decode_wav, encode_wav


def pcm(n: int, start: int = 0) -> np.ndarray:
    return (np.arange(start, start + n) % 30000).astype(np.int16)


def feed(chunker: AudioChunker, sizes: list[int]) -> list:
    chunks, pos = [], 0
    for size in sizes:
        chunks += chunker.push(pcm(size, pos))
        pos += size
    return chunks + chunker.flush()


@pytest.mark.parametrize("sizes", [[1024] * 70, [333, 5000, 17, 40000, 1, 9999], [32000 * 3], [7]])
def test_chunks_tile_the_track_without_gaps_or_overlap(sizes):
    chunker = AudioChunker(16_000, 2.0)
    chunks = feed(chunker, sizes)
    total = sum(sizes)
    assert sum(len(c.samples) for c in chunks) == total
    assert chunks[0].start_sample == 0 and chunks[0].media_offset_ms == 0
    for a, b in itertools.pairwise(chunks):
        assert a.end_sample == b.start_sample
        assert a.media_offset_ms + a.duration_ms == b.media_offset_ms
    # every chunk but the last is exactly 2 s
    assert all(len(c.samples) == 32_000 and c.duration_ms == 2000 for c in chunks[:-1])
    assert chunks[-1].media_offset_ms + chunks[-1].duration_ms == round(total * 1000 / 16_000)
    # the samples come out in order, unchanged
    assert np.array_equal(np.concatenate([c.samples for c in chunks]), pcm(total))


def test_origin_offsets_and_odd_chunk_lengths_still_tile():
    chunker = AudioChunker(16_000, 0.3333, origin_s=12.5)
    chunks = feed(chunker, [16_000 * 3])
    assert chunks[0].media_offset_ms == 12_500
    assert chunks[0].media_offset_s == pytest.approx(12.5)
    for a, b in itertools.pairwise(chunks):
        assert a.media_offset_ms + a.duration_ms == b.media_offset_ms
    assert chunks[-1].media_offset_ms + chunks[-1].duration_ms == 15_500


def test_flush_without_samples_is_empty_and_rejects_stereo():
    chunker = AudioChunker()
    assert chunker.push(np.zeros(0, np.int16)) == [] and chunker.flush() == []
    with pytest.raises(ValueError):
        chunker.push(np.zeros((10, 2), np.int16))
    with pytest.raises(ValueError):
        AudioChunker(chunk_seconds=0)


def test_wav_round_trip():
    samples = pcm(16_000)
    data = encode_wav(samples, 16_000)
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    back, rate = decode_wav(data)
    assert rate == 16_000 and np.array_equal(back, samples)


def test_max_samples_cuts_codec_padding_at_the_end_of_the_track():
    chunker = AudioChunker(16_000, 2.0, max_samples=16_000 * 5)
    chunks = feed(chunker, [1024] * 80)  # 81920 samples decoded, the track is 80000 long
    assert sum(len(c.samples) for c in chunks) == 80_000
    assert chunks[-1].media_offset_ms + chunks[-1].duration_ms == 5000
