"""Serving performance: Locust load against OpenAI-compatible servers, metrics from raw per-request records."""
