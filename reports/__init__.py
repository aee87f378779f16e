"""Analysis reports: typed report records, a pure builder, and JSON/HTML renderers.

``collect`` is the only module here that talks to Kafka or the object store; everything else is pure.
"""
