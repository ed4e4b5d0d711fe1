"""CMMLU: 67 subjects of Chinese multiple-choice questions (4 options); 5-shot from dev, scored on test."""

from __future__ import annotations

from evalscope.api import (
    CHINESE_FEW_SHOT_HEADER,
    CHINESE_SINGLE_ANSWER_COT,
    ChoiceSetup,
    LetterExam,
    LetterGeneration,
    Sample,
    lettered,
)

# subject -> (Chinese name used in the prompt, category), from CMMLU's subject table.
SUBJECTS = {
    "agronomy": ("农学", "other"), "anatomy": ("解剖学", "stem"), "ancient_chinese": ("古汉语", "social_science"),
    "arts": ("艺术学", "humanities"), "astronomy": ("天文学", "stem"),
    "business_ethics": ("商业伦理", "social_science"),
    "chinese_civil_service_exam": ("中国公务员考试", "social_science"),
    "chinese_driving_rule": ("中国驾驶规则", "other"), "chinese_food_culture": ("中国饮食文化", "social_science"),
    "chinese_foreign_policy": ("中国外交政策", "social_science"), "chinese_history": ("中国历史", "humanities"),
    "chinese_literature": ("中国文学", "humanities"),
    "chinese_teacher_qualification": ("中国教师资格", "social_science"),
    "clinical_knowledge": ("临床知识", "other"), "college_actuarial_science": ("大学精算学", "stem"),
    "college_education": ("大学教育学", "social_science"), "college_engineering_hydrology": ("大学工程水文学", "stem"),
    "college_law": ("大学法律", "humanities"), "college_mathematics": ("大学数学", "stem"),
    "college_medical_statistics": ("大学医学统计", "stem"), "college_medicine": ("大学医学", "other"),
    "computer_science": ("计算机科学", "stem"), "computer_security": ("计算机安全", "other"),
    "conceptual_physics": ("概念物理学", "stem"), "construction_project_management": ("建设工程管理", "other"),
    "economics": ("经济学", "social_science"), "education": ("教育学", "social_science"),
    "electrical_engineering": ("电气工程", "stem"), "elementary_chinese": ("小学语文", "social_science"),
    "elementary_commonsense": ("小学常识", "other"), "elementary_information_and_technology": ("小学信息技术", "other"),
    "elementary_mathematics": ("初等数学", "stem"), "ethnology": ("民族学", "social_science"),
    "food_science": ("食品科学", "other"), "genetics": ("遗传学", "stem"), "global_facts": ("全球事实", "humanities"),
    "high_school_biology": ("高中生物", "stem"), "high_school_chemistry": ("高中化学", "stem"),
    "high_school_geography": ("高中地理", "social_science"), "high_school_mathematics": ("高中数学", "stem"),
    "high_school_physics": ("高中物理学", "stem"), "high_school_politics": ("高中政治", "social_science"),
    "human_sexuality": ("人类性行为", "other"), "international_law": ("国际法学", "humanities"),
    "journalism": ("新闻学", "social_science"), "jurisprudence": ("法理学", "humanities"),
    "legal_and_moral_basis": ("法律与道德基础", "other"), "logical": ("逻辑学", "humanities"),
    "machine_learning": ("机器学习", "stem"), "management": ("管理学", "social_science"),
    "marketing": ("市场营销", "social_science"), "marxist_theory": ("马克思主义理论", "humanities"),
    "modern_chinese": ("现代汉语", "social_science"), "nutrition": ("营养学", "other"),
    "philosophy": ("哲学", "humanities"), "professional_accounting": ("专业会计", "social_science"),
    "professional_law": ("专业法学", "humanities"), "professional_medicine": ("专业医学", "other"),
    "professional_psychology": ("专业心理学", "social_science"), "public_relations": ("公共关系", "social_science"),
    "security_study": ("安全研究", "social_science"), "sociology": ("社会学", "social_science"),
    "sports_science": ("体育学", "other"), "traditional_chinese_medicine": ("中医中药", "other"),
    "virology": ("病毒学", "stem"), "world_history": ("世界历史", "humanities"),
    "world_religions": ("世界宗教", "humanities"),
}


class CMMLU(LetterExam):
    version = "2"  # 2: the generation setup sends EvalScope 1.14.1's prompt and reads the answer as it does
    splits = {"test": "test", "dev": "dev"}  # folders of <subject>.csv, header ",Question,A,B,C,D,Answer"
    hub = {"modelscope": "modelscope/cmmlu", "huggingface": "haonan-li/cmmlu"}
    few_shot_split = "dev"
    subsets = tuple(sorted(SUBJECTS))
    categories = {s: c for s, (_, c) in SUBJECTS.items()}
    subject_names = {s: zh for s, (zh, _) in SUBJECTS.items()}
    columns = ("Question", "A", "B", "C", "D", "Answer")
    question_prefix = "题目："
    answer_cue = "答案是："
    setups = (
        ChoiceSetup("evalscope-0.5", "EvalScope 0.5 / CMMLU official: 5-shot from dev, Chinese prompt, next-token "
                    "logits of the letters A-D after '答案是：'", few_shot_num=5, few_shot_random=False,
                    answer="letter", letter_prefix=""),
        LetterGeneration("evalscope", "EvalScope 1.14.1 cmmlu: 0-shot (few_shot_num takes the first of dev), "
                         "Chinese prompt, the model reasons and ends with '答案：X'",
                         template=CHINESE_SINGLE_ANSWER_COT, few_shot_header=CHINESE_FEW_SHOT_HEADER,
                         marker="答案", aliases=("generation",)),
    )

    def description(self, subset: str) -> str:
        return f"以下是关于{self.subject(subset)}的单项选择题，请直接给出正确答案的选项。\n\n"

    def file_name(self, split: str, subset: str) -> str:
        return f"{subset}.csv"

    def example(self, sample: Sample) -> str:
        return f"问题：{sample.input}\n选项：\n{lettered(sample, ') ')}\n答案：{sample.target}"
