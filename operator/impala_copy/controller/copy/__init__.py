"""CopyActivity: one run is one Job running the copy engine."""
