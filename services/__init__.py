"""Plumbing shared by ingest, router and dispatcher: settings, Kafka, PostgreSQL, metrics, logging."""
