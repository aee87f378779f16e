"""Fusion of per-camera score windows into anomaly events, and the PostgreSQL projection of those events."""

#: Version of the fusion code, carried by every anomaly next to the rules version.
FUSION_VERSION = "1.0.0"
