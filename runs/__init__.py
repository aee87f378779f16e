"""Runs of the whole platform on one machine: its services as child processes under a topic prefix, fed by
producers, watched until the pipeline has seen everything, then stopped.

- ``platform``: start the platform's services for a run and stop them (``platform_services``, ``open_run``).
- ``pipeline``: ``PipelineRun``, the services and producers of one run and how far each stage has got.
- ``watch``: wait until the run is done, stuck or out of time.
- ``topics``: a run's topics and consumer groups, created and dropped.
- ``analysis``, ``report``: the use case of ``anomaly analyze``; ``demo``, ``api_key``: that of ``anomaly demo``.

Used by ``anomaly analyze``, ``anomaly demo`` and the pipeline benchmark.
"""
