"""MATH's `evalscope-0.5` setup against EvalScope 0.5.5's own adapter: prompts byte for byte, answers and verdicts.

    pip download --no-deps evalscope==0.5.5 -d /tmp/es05 && unzip -q /tmp/es05/*.whl -d /tmp/es05
    python bench/fidelity_evalscope05.py \
        --adapter /tmp/es05/evalscope/benchmarks/competition_math/competition_math_adapter.py

Rather than install EvalScope 0.5.5 with its 2024 dependencies, its adapter's source is run on its own: the lines
importing the rest of EvalScope are dropped and the base class stubbed (its prompt and scoring methods use nothing
else). Compared over the MATH test set: the 4-shot prompt; then, on made-up replies (the reference
solution with a "Final Answer" sentence giving its answer as is or restyled, another problem's answer, no such
sentence), the extracted answer and the verdict. Pass: all prompts identical, >= 99.5% answers and verdicts.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from fidelity_lmeval_scoring import math_replies  # noqa: E402

from evalscope.config import RunConfig  # noqa: E402
from evalscope.kinds.math import EVALSCOPE_05  # noqa: E402
from evalscope.schema import Completion, Sample  # noqa: E402
from evalscope.scoring.extract import last_boxed  # noqa: E402
from evalscope.scoring.math.hendrycks import normalize  # noqa: E402
from evalscope.suite import Suite  # noqa: E402


def their_adapter(path: Path) -> Any:
    source = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines()
                       if not line.startswith("from evalscope"))
    namespace: dict[str, Any] = {"DataAdapter": object, "get_logger": lambda: logging.getLogger("es05"),
                                 "weighted_mean": None, "normalize_score": None}
    exec(compile(source, str(path), "exec"), namespace)  # EvalScope's own file, run to compare
    return namespace["CompetitionMathAdapter"]


def _normalized(normalize_fn: Any, text: str | None) -> str | None:
    try:
        return None if text is None else str(normalize_fn(text))
    except (AssertionError, ValueError, IndexError):  # both sides then compare the raw strings
        return "<raw>"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", type=Path, required=True, help="EvalScope 0.5.5's competition_math_adapter.py")
    parser.add_argument("--dataset-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--n", type=int, default=5000, help="MATH test problems")
    args = parser.parse_args()
    adapter = their_adapter(args.adapter)
    suite = Suite.load("competition_math", RunConfig(dataset_dir=args.dataset_dir))
    samples = [s for s in suite.samples if isinstance(s, Sample)][: args.n]
    prompts = answers = verdicts = total = right = golds = 0
    notes = []
    for i, sample in enumerate(samples):
        ours = EVALSCOPE_05.prompt(sample, EVALSCOPE_05.shots(()))  # type: ignore[misc]
        prompts += ours.prompt == adapter._generate_prompt({"problem": sample.input}, use_fewshot=True)
        solution = str(sample.metadata["solution"])
        gold = adapter._preprocess_input(solution)
        golds += _normalized(normalize, gold) == _normalized(adapter.strip_string, gold)
        other = last_boxed(str(samples[(i + 1) % len(samples)].metadata["solution"])) or ""
        for kind, reply in math_replies(solution, last_boxed(solution) or "", other, i):
            try:
                theirs_answer = adapter._math_postprocess(reply)
            except AssertionError:  # its normaliser asserts on some inputs; EvalScope 0.5.5 then fails the sample
                theirs_answer = None
            theirs_right = theirs_answer is not None and bool(adapter._is_equiv(theirs_answer, gold))
            verdict = EVALSCOPE_05.score(sample, Completion(reply, 0, 0, "stop", ""))  # type: ignore[misc]
            total += 1
            right += theirs_right
            answers += verdict.extracted["acc"] == theirs_answer
            verdicts += verdict.metrics["acc"] == float(theirs_right)
            if verdict.metrics["acc"] != float(theirs_right) or verdict.extracted["acc"] != theirs_answer:
                notes.append(f"  {sample.id} ({kind}): ours {verdict.extracted['acc']!r} {verdict.metrics['acc']}, "
                             f"EvalScope 0.5.5 {theirs_answer!r} {float(theirs_right)}; gold {gold!r}")
    print(f"prompts identical: {prompts}/{len(samples)}; reference answers normalised identically (MATH's "
          f"string match): {golds}/{len(samples)}")
    print(f"made-up replies: {total} ({right} right for EvalScope 0.5.5); same answer {answers} "
          f"({100 * answers / total:.2f}%), same verdict {verdicts} ({100 * verdicts / total:.2f}%)")
    for note in notes[:15]:
        print(note)
    ok = prompts == golds == len(samples) and min(answers, verdicts) >= 0.995 * total
    print("PASS" if ok else "FAIL", "(prompts identical, >= 99.5% of answers and verdicts)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
