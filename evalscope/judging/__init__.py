"""Judge-scored metrics for any generation benchmark: a model grades the answers (`metric.py`: reference grading,
rubric scores), several judges and repeats asked in batches through the engine (`panel.py`), and how far they
agree (`agreement.py`)."""

from evalscope.judging.metric import REFERENCE_LABELS, JudgeMetric, reference_grader, rubric

__all__ = ["REFERENCE_LABELS", "JudgeMetric", "reference_grader", "rubric"]
