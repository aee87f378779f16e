"""HTTP API, live WebSocket alerts and the operator dashboard."""
