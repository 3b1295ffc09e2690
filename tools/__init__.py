"""Repository tools (not shipped with the package): ``python -m tools.gen`` writes the files derived from the method
registry."""
