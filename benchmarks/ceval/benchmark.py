"""C-Eval: 52 subjects of Chinese exam questions (4 options); scored on the public val split, shots from dev."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from evalscope.api import CHINESE_FEW_SHOT_HEADER, ChoiceSetup, LetterExam, LetterGeneration, Sample, Setup, lettered

# EvalScope 1.14.1's own C-Eval prompt (its ceval adapter), options lettered "A. ...".
GENERATION_PROMPT = (
    "以下是中国关于{subject}的单项选择题，请选出其中的正确答案。你的回答的最后一行应该是这样的格式：\"答案：[LETTER]\"（不带引号），"
    "其中 [LETTER] 是 A、B、C、D 中的一个。\n\n问题：{question}\n选项：\n{choices}\n"
)

# subject -> (Chinese name used in the prompt, category), from C-Eval's subject mapping.
SUBJECTS = {
    "accountant": ("注册会计师", "other"), "advanced_mathematics": ("高等数学", "stem"),
    "art_studies": ("艺术学", "humanities"), "basic_medicine": ("基础医学", "other"),
    "business_administration": ("工商管理", "social_science"),
    "chinese_language_and_literature": ("中国语言文学", "humanities"), "civil_servant": ("公务员", "other"),
    "clinical_medicine": ("临床医学", "other"), "college_chemistry": ("大学化学", "stem"),
    "college_economics": ("大学经济学", "social_science"), "college_physics": ("大学物理", "stem"),
    "college_programming": ("大学编程", "stem"), "computer_architecture": ("计算机组成", "stem"),
    "computer_network": ("计算机网络", "stem"), "discrete_mathematics": ("离散数学", "stem"),
    "education_science": ("教育学", "social_science"), "electrical_engineer": ("注册电气工程师", "stem"),
    "environmental_impact_assessment_engineer": ("环境影响评价工程师", "other"),
    "fire_engineer": ("注册消防工程师", "other"), "high_school_biology": ("高中生物", "stem"),
    "high_school_chemistry": ("高中化学", "stem"), "high_school_chinese": ("高中语文", "humanities"),
    "high_school_geography": ("高中地理", "social_science"), "high_school_history": ("高中历史", "humanities"),
    "high_school_mathematics": ("高中数学", "stem"), "high_school_physics": ("高中物理", "stem"),
    "high_school_politics": ("高中政治", "social_science"),
    "ideological_and_moral_cultivation": ("思想道德修养与法律基础", "humanities"), "law": ("法学", "humanities"),
    "legal_professional": ("法律职业资格", "humanities"), "logic": ("逻辑学", "humanities"),
    "mao_zedong_thought": ("毛泽东思想和中国特色社会主义理论体系概论", "social_science"),
    "marxism": ("马克思主义基本原理", "social_science"), "metrology_engineer": ("注册计量师", "stem"),
    "middle_school_biology": ("初中生物", "stem"), "middle_school_chemistry": ("初中化学", "stem"),
    "middle_school_geography": ("初中地理", "social_science"), "middle_school_history": ("初中历史", "humanities"),
    "middle_school_mathematics": ("初中数学", "stem"), "middle_school_physics": ("初中物理", "stem"),
    "middle_school_politics": ("初中政治", "social_science"), "modern_chinese_history": ("近代史纲要", "humanities"),
    "operating_system": ("操作系统", "stem"), "physician": ("医师资格", "other"),
    "plant_protection": ("植物保护", "other"), "probability_and_statistics": ("概率统计", "stem"),
    "professional_tour_guide": ("导游资格", "humanities"), "sports_science": ("体育学", "other"),
    "tax_accountant": ("税务师", "other"), "teacher_qualification": ("教师资格", "social_science"),
    "urban_and_rural_planner": ("注册城乡规划师", "other"), "veterinary_medicine": ("兽医学", "stem"),
}


class CEval(LetterExam):
    version = "2"  # 2: the generation setup sends EvalScope 1.14.1's prompt and reads the answer as it does
    splits = {"val": "val", "dev": "dev"}  # folders of <subject>_<split>.csv with a header row
    hub = {"modelscope": "modelscope/ceval-exam", "huggingface": "ceval/ceval-exam"}
    eval_split = "val"
    few_shot_split = "dev"
    subsets = tuple(sorted(SUBJECTS))
    categories = {s: c for s, (_, c) in SUBJECTS.items()}
    subject_names = {s: zh for s, (zh, _) in SUBJECTS.items()}
    answer_cue = "答案："
    setups = (
        ChoiceSetup("evalscope-0.5", "EvalScope 0.5: 0-shot (up to 5 from dev), the official Chinese prompt, "
                    "next-token logits of the letters A-D after '答案：'", few_shot_random=False, answer="letter",
                    letter_prefix=""),
        LetterGeneration("evalscope", "EvalScope 1.14.1 ceval: the subject's first 5 dev questions with their "
                         "explanations, Chinese prompt, the model ends with '答案：X'", few_shot_num=5,
                         few_shot_header=CHINESE_FEW_SHOT_HEADER, marker="答案", aliases=("generation",)),
    )

    def description(self, subset: str) -> str:
        return f"以下是中国关于{self.subject(subset)}考试的单项选择题，请选出其中的正确答案。\n\n"

    def to_sample(self, row: Mapping[str, Any]) -> Sample:
        sample = super().to_sample(row)  # dev rows explain their answer; the few-shot examples show it
        return replace(sample, metadata={**sample.metadata, "explanation": str(row.get("explanation") or "")})

    def prompt(self, sample: Sample, setup: Setup, few_shot: Sequence[Sample]) -> str:
        question = GENERATION_PROMPT.format(subject=self.subject(sample.subset), question=sample.input,
                                            choices=lettered(sample))
        if not few_shot:
            return question
        return CHINESE_FEW_SHOT_HEADER.format(fewshot="\n\n".join(map(self.example, few_shot))) + "\n" + question

    def example(self, sample: Sample) -> str:
        return (f"问题：{sample.input}\n选项：\n{lettered(sample)}\n解析：{sample.metadata['explanation']}\n"
                f"答案：{sample.target}")
