"""Application services: one per use case, built on the store and the pure core."""
