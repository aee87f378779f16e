"""The audio score end to end on real Whisper-tiny (bundled, offline) and espeak-ng speech."""

from __future__ import annotations

import numpy as np
import pytest

from processors.audio.lexicon import load_lexicon
from processors.audio.score import VadConfig, score
from processors.media import Pcm, decode_wav
from processors.settings import ProcessorSettings
from tests.model_fixtures import speech_wav

LEXICON = ProcessorSettings().lexicon_file


class NeverCalled:
    def transcribe(self, samples16k: np.ndarray) -> object:
        raise AssertionError("a silent chunk reached the speech model")


def test_silent_chunk_never_reaches_the_model() -> None:
    result = score(Pcm(np.zeros(32_000, np.float32), 16_000), NeverCalled(), load_lexicon(LEXICON), VadConfig())  # type: ignore[arg-type]
    assert result.vad_skipped and result.transcript == "" and result.matched_phrases == []
    assert result.loudness.rms_dbfs < -100


@pytest.fixture(scope="module")
def audio_model():  # type: ignore[no-untyped-def]
    from processors.loaders import load_audio

    return load_audio(ProcessorSettings(torch_num_threads=2))


@pytest.mark.slow
def test_spoken_call_for_help_matches_distress(audio_model) -> None:  # type: ignore[no-untyped-def]
    pcm = decode_wav(speech_wav("help, somebody call the police"), max_seconds=30)
    result = score(pcm, audio_model.transcriber, audio_model.lexicon, audio_model.vad)
    assert not result.vad_skipped
    assert "police" in result.transcript.lower()
    assert result.language == "en"
    categories = {m.category for m in result.matched_phrases}
    assert "distress" in categories
    assert any(m.phrase == "call the police" for m in result.matched_phrases)


@pytest.mark.slow
def test_ordinary_speech_has_no_match(audio_model) -> None:  # type: ignore[no-untyped-def]
    pcm = decode_wav(speech_wav("the meeting starts at ten tomorrow morning"), max_seconds=30)
    result = score(pcm, audio_model.transcriber, audio_model.lexicon, audio_model.vad)
    assert not result.vad_skipped and result.transcript
    assert result.matched_phrases == []
