"""lightning-meta: meta-learning and meta-pretraining of NLP encoders with PyTorch Lightning."""

__version__ = "0.1.0"
