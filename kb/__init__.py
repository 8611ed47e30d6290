"""Knowledge base over Danish social-sector guidance: retrieval and cited, extractive answers."""
