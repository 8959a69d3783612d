"""Training: clips from the index (``clips``), augmentation (``augment``), the loop (``loop``),
DDP helpers (``distributed``) and the stage facade and CLI (``run``)."""
