"""Needle in a haystack as a pytest suite: one item per (context length, needle depth)."""

import pytest

pytestmark = pytest.mark.evalscope("needle_haystack")


def test_needle_haystack(sample, scored):
    """Passes when the answer names the needle's fact; otherwise INCORRECT. The context is the stated length in the
    model's tokens (within a sentence) and the needle sits where it was put."""
    assert sample.metadata["tokens"] <= sample.metadata["length"], "the context is longer than its grid point"
    assert all(0.0 <= v <= 1.0 for v in scored.metrics.values()), f"scores outside [0, 1]: {scored.metrics}"
