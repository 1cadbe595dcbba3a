"""Ingest: the wire contract, the MQTT subscriber and the batch writer."""
