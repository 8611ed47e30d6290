"""Turning guidance files into clean, section-aware chunks: load -> clean -> chunk."""
