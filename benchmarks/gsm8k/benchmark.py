"""GSM8K: grade-school math word problems; the final number of the model's answer is compared with the target."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from evalscope.api import (
    Benchmark,
    Completion,
    GenerationRequest,
    RowError,
    Sample,
    Scored,
    Setup,
    fields,
    last_number,
    math_answer,
    math_equal,
    normalize_number,
    numbers_equal,
)

# The first four chain-of-thought exemplars of Wei et al. (2022), as EvalScope 0.5 used fixed exemplars.
COT_EXEMPLARS = tuple(Sample(question, "", metadata={"answer": answer}) for question, answer in [
    ("There are 15 trees in the grove. Grove workers will plant trees in the grove today. After they are done, "
     "there will be 21 trees. How many trees did the grove workers plant today?",
     "There are 15 trees originally. Then there were 21 trees after some more were planted. "
     "So there must have been 21 - 15 = 6. The answer is 6."),
    ("If there are 3 cars in the parking lot and 2 more cars arrive, how many cars are in the parking lot?",
     "There are originally 3 cars. 2 more cars arrive. 3 + 2 = 5. The answer is 5."),
    ("Leah had 32 chocolates and her sister had 42. If they ate 35, how many pieces do they have left in total?",
     "Originally, Leah had 32 chocolates. Her sister had 42. So in total they had 32 + 42 = 74. "
     "After eating 35, they had 74 - 35 = 39. The answer is 39."),
    ("Jason had 20 lollipops. He gave Denny some lollipops. Now Jason has 12 lollipops. "
     "How many lollipops did Jason give to Denny?",
     "Jason started with 20 lollipops. Then he had 12 after giving some to Denny. "
     "So he gave Denny 20 - 12 = 8. The answer is 8."),
])


def number_score(extract: Callable[[str], str | None]) -> Callable[[Sample, Completion], Scored]:
    """`acc`: the number `extract` finds in the output equals the target (integers exactly)."""

    def score(sample: Sample, completion: Completion) -> Scored:
        found = extract(completion.text)
        return Scored({"acc": float(numbers_equal(found, sample.target))}, {"acc": found})

    return score


def cot_prompt(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    shots = "".join(f"Question: {s.input}\nLet's think step by step\nAnswer: {s.metadata['answer']}\n\n"
                    for s in few_shot)
    return GenerationRequest(f"{shots}Question: {sample.input}\nLet's think step by step\nAnswer:",
                             stop=("Question:",))


# lm-eval's two filters: the number after '####', and the last number-like token anywhere.
STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")


def lm_eval_normalize(text: str) -> str:
    """lm-eval's exact_match preprocessing for GSM8K: drop commas, '$', a trailing period; lower case."""
    return re.sub(r"\.$", "", text.replace(",", "").replace("$", "").strip()).lower()


def lm_eval_prompt(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    shots = "".join(f"Question: {s.input}\nAnswer: {s.metadata['answer']}\n\n" for s in few_shot)
    return GenerationRequest(f"{shots}Question: {sample.input}\nAnswer:", stop=("Question:", "</s>", "<|im_end|>"))


def lm_eval_score(sample: Sample, completion: Completion) -> Scored:
    strict = STRICT.findall(completion.text)
    flexible = [a or b for a, b in FLEXIBLE.findall(completion.text)]
    answers = {"exact_match,strict-match": strict[0] if strict else None,
               "exact_match,flexible-extract": flexible[-1] if flexible else None}
    target = lm_eval_normalize(sample.target)
    return Scored({m: float(a is not None and lm_eval_normalize(a) == target) for m, a in answers.items()}, answers)


def evalscope_score(sample: Sample, completion: Completion) -> Scored:
    """EvalScope 1.14.1's: Math-Verify reads the reply's first answer and compares it with the raw final answer."""
    answer = math_answer(completion.text)
    return Scored({"acc": float(math_equal(answer, sample.metadata["final"]))}, {"acc": answer})


def boxed_prompt(sample: Sample, few_shot: Sequence[Sample]) -> GenerationRequest:
    question = f"{sample.input}\nPlease reason step by step, and put your final answer within \\boxed{{}}."
    if not few_shot:
        return GenerationRequest(question)
    shots = "\n\n".join(f"{s.input}\n\nReasoning:\n{s.metadata['reasoning']}\n\n"
                        f"ANSWER: \\boxed{{{s.metadata['final']}}}" for s in few_shot)
    return GenerationRequest(f"Here are some examples of how to solve similar problems:\n\n{shots}\n\n{question}")


class GSM8K(Benchmark):
    version = "2"  # 2: chat-boxed sends EvalScope 1.14.1's prompt and scores as it does
    splits = {"test": "test.jsonl", "train": "train.jsonl"}
    hub = {"modelscope": "AI-ModelScope/gsm8k", "huggingface": "openai/gsm8k"}
    hub_splits = {"test": "main/test-*.parquet", "train": "main/train-*.parquet"}
    few_shot_split = "train"
    subsets = ("main",)
    setups = (
        Setup("evalscope-0.5", "4 fixed chain-of-thought exemplars; 'Let's think step by step'; last number",
              few_shot_num=4, few_shot_random=False, exemplars=COT_EXEMPLARS, prompt=cot_prompt,
              score=number_score(last_number)),
        Setup("lm-eval", "lm-eval gsm8k: 5-shot 'Question:/Answer:' from train; strict-match and flexible-extract",
              few_shot_num=5, few_shot_random=False, chat_template=False, prompt=lm_eval_prompt, score=lm_eval_score,
              metrics=("exact_match,strict-match", "exact_match,flexible-extract")),
        Setup("evalscope", "EvalScope 1.14.1 gsm8k: the first 4 train problems, reason step by step, answer in "
              "\\boxed{}; Math-Verify reads and compares the answer", few_shot_num=4, few_shot_random=False,
              prompt=boxed_prompt, score=evalscope_score, aliases=("chat-boxed",)),
    )

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        question, answer = map(str, fields(row, "question", "answer"))
        if "####" not in answer:
            raise RowError("answer has no '#### <number>' line")
        reasoning, _, final = answer.rpartition("####")
        return Sample(question, normalize_number(final),
                      metadata={"reasoning": reasoning.strip(), "final": final.strip(), "answer": answer})
