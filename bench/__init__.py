"""The benchmark: ``python -m bench`` (``--short`` in CI). See docs/performance.md."""
