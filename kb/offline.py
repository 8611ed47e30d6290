"""Nothing in this product may reach a model hub or phone home.

``ensure_offline()`` sets the variables the Hugging Face libraries and Gradio read when they are
imported; it is called right before those imports (they happen lazily), and by the edges at start.
"""
from __future__ import annotations

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
}


def ensure_offline() -> None:
    """Set the offline variables, unless the operator set them."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
