"""One module per modality, each declaring ``MODALITY`` (see ``processors.registry``)."""
