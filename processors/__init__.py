"""Stateless model processors: a pure ``score`` per model and one shared consume/produce loop."""
