"""Arena: models compared pairwise (or graded one by one) as pytest items, judged in both orders, rated."""
