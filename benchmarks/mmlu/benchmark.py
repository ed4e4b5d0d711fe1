"""MMLU: 57 subjects of 4-option exam questions; 5-shot from each subject's dev split, scored on test."""

from __future__ import annotations

from evalscope.api import ChoiceSetup, LetterExam, LetterGeneration

# lm-eval's grouping of the 57 subjects (mmlu_stem / _humanities / _social_sciences / _other).
CATEGORY_SUBJECTS = {
    "stem": "abstract_algebra anatomy astronomy college_biology college_chemistry college_computer_science "
            "college_mathematics college_physics computer_security conceptual_physics electrical_engineering "
            "elementary_mathematics high_school_biology high_school_chemistry high_school_computer_science "
            "high_school_mathematics high_school_physics high_school_statistics machine_learning",
    "humanities": "formal_logic high_school_european_history high_school_us_history high_school_world_history "
                  "international_law jurisprudence logical_fallacies moral_disputes moral_scenarios philosophy "
                  "prehistory professional_law world_religions",
    "social_sciences": "econometrics high_school_geography high_school_government_and_politics "
                       "high_school_macroeconomics high_school_microeconomics high_school_psychology "
                       "human_sexuality professional_psychology public_relations security_studies sociology "
                       "us_foreign_policy",
    "other": "business_ethics clinical_knowledge college_medicine global_facts human_aging management marketing "
             "medical_genetics miscellaneous nutrition professional_accounting professional_medicine virology",
}
CATEGORIES = {subject: category for category, names in CATEGORY_SUBJECTS.items() for subject in names.split()}


class MMLU(LetterExam):
    version = "2"  # 2: the generation setup sends EvalScope 1.14.1's prompt and reads the answer as it does
    splits = {"test": "test", "dev": "dev"}  # folders of <subject>_<split>.csv, no header row
    hub = {"modelscope": "modelscope/mmlu", "huggingface": "cais/mmlu"}
    few_shot_split = "dev"
    subsets = tuple(sorted(CATEGORIES))
    categories = CATEGORIES
    header = ("question", "A", "B", "C", "D", "answer")
    setups = (
        ChoiceSetup("lm-eval", "lm-eval mmlu with --num_fewshot 5: subject line, first 5 dev questions, "
                    "loglikelihood of ' A'..' D' after 'Answer:'", few_shot_num=5, few_shot_random=False,
                    answer="letter"),
        ChoiceSetup("evalscope-0.5", "EvalScope 0.5: the same 5-shot prompt, next-token logits of the letters A-D "
                    "(no leading space)", few_shot_num=5, few_shot_random=False, answer="letter", letter_prefix=""),
        LetterGeneration("evalscope", "EvalScope 1.14.1 mmlu: the subject's first 5 dev questions, the model "
                         "reasons and ends with 'ANSWER: X'", few_shot_num=5, aliases=("generation",)),
    )
