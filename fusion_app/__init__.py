"""Faust app fusing per-camera score windows into anomaly events, and the PostgreSQL projection."""
