"""Stateless webhook endpoints: verify, normalise, publish to Kafka, answer the provider."""
