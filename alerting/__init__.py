"""Alerting."""
