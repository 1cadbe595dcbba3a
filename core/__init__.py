"""Shared vocabulary every stage may import: readings, kinds, the clock, settings."""
