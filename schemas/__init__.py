"""Avro contracts (``*.avsc``) and the Python records that mirror them."""
