"""Camera and audio producers: capture, sample, encode, store the object, publish its reference."""
