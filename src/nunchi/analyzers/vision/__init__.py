"""Vision analyzers: the ImageNet backbone and the trainable classifier head (pure)."""
