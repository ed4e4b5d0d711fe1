"""Run inside the lm-eval venv: lm-eval 0.4.13's own scorers on cases read from a JSONL file, verdicts to stdout.

    <lm-eval python> bench/_lmeval_scorers.py CASES.jsonl

A case is {"kind": "minerva", "solution", "reply"} or {"kind": "ifeval", "doc": {...}, "response"}. Output, a
line per case: minerva {"answer", "exact_match", "math_verify"}; ifeval {"strict": [...], "loose": [...]}.
"""

from __future__ import annotations

import json
import sys


def punkt_offline() -> None:
    """lm-eval's IFEval counts sentences with nltk's trained English Punkt model and splits words with
    `nltk.word_tokenize`, both downloaded at import; nothing can be downloaded here. Our stand-in (Punkt with the
    model's abbreviations, evalscope/instructions.py) takes its place on both sides, so what is compared is the
    checkers' logic; how far the stand-in is from the trained model is said in benchmarks/ifeval/README.md."""
    import importlib.util
    from pathlib import Path

    import nltk

    spec = importlib.util.spec_from_file_location(
        "our_instructions", Path(__file__).resolve().parents[1] / "evalscope" / "instructions.py")
    assert spec is not None and spec.loader is not None
    ours = sys.modules["our_instructions"] = importlib.util.module_from_spec(spec)  # its dataclasses look it up
    spec.loader.exec_module(ours)
    nltk.download = lambda *args, **kwargs: True  # type: ignore[assignment]
    nltk.word_tokenize = lambda text, *args, **kwargs: ours._word_tokens(text)
    from lm_eval.tasks.ifeval import instructions_util

    instructions_util._get_sentence_tokenizer = ours._sentence_tokenizer


def main() -> None:
    punkt_offline()
    from lm_eval.tasks.ifeval import utils as ifeval
    from lm_eval.tasks.minerva_math import utils as minerva

    with open(sys.argv[1], encoding="utf-8") as cases:
        lines = cases.readlines()
    for line in lines:
        case = json.loads(line)
        if case["kind"] == "minerva":
            solution = case["solution"]
            doc = {"problem": "", "solution": solution,
                   "answer": minerva.normalize_final_answer(minerva.remove_boxed(
                       minerva.last_boxed_only_string(solution)))}
            out = minerva.process_results(doc, [case["reply"]])
            out["answer"] = minerva.normalize_final_answer(minerva.get_unnormalized_answer(case["reply"]))
        else:
            doc = case["doc"]
            example = ifeval.InputExample(key=doc["key"], instruction_id_list=doc["instruction_id_list"],
                                          prompt=doc["prompt"], kwargs=doc["kwargs"])
            out = {"strict": ifeval.test_instruction_following_strict(example, case["response"])
                   .follow_instruction_list,
                   "loose": ifeval.test_instruction_following_loose(example, case["response"])
                   .follow_instruction_list}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
