"""visempar: Vietnamese AMR parsing with LoRA fine-tuning that cannot silently fail."""

__version__ = "0.1.0"
