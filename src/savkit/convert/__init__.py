"""Dataset-scale conversions, one task per video on the shared parallel runner: frames, masks."""
