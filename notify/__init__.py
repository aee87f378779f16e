"""Notifications: the `anomaly notify worker` service turning anomaly events and operator actions into webhook,
e-mail and MQTT messages, routed by the NOTIFY_CONFIG file."""
