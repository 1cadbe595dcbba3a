"""Delivery channels: one small Protocol (`base.Channel`), one module per channel."""
