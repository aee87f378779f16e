"""Audio: loudness cues, voice activity, transcription and the distress-phrase lexicon."""
