"""The PyPI side of lockpin: indexes, targets, resolution and lockfiles."""
