"""Bottom layer: files in and out (atomic writes, PNG, video)."""
