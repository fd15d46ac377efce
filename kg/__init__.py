"""jp-funding-kg: a knowledge graph of Japanese government budget programs and their funding flows."""

__version__ = "0.1.0"
