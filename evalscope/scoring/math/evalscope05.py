"""EvalScope 0.5.5's MATH setup: four fixed exemplars, the answer read from the reply's "final answer" sentence
(OpenCompass's reading), compared by MATH's string match (Hendrycks et al.'s `is_equiv`)."""

from __future__ import annotations

import re

from evalscope.scoring.extract import last_boxed
from evalscope.scoring.math import minerva
from evalscope.scoring.math.hendrycks import is_equiv

# EvalScope 0.5.5's exemplars as it sends them, byte for byte: its source writes them in plain strings joined to an
# f-string, so their braces stay doubled (`\frac{{a}}{{b}}`) and the first problem ends in a stray `}}`.
EXEMPLARS = (
    'Problem:\n'
    'Find the domain of the expression $\\frac{{\\sqrt{{x-2}}}}{{\\sqrt{{5-x}}}}$.}}\n'
    'Solution:\n'
    'The expressions inside each square root must be non-negative. Therefore, $x-2 \\ge 0$, so $x\\ge2$, '
    'and $5 - x \\ge 0$, so $x \\le 5$. Also, the denominator cannot be equal to zero, so $5-x>0$, which '
    'gives $x<5$. Therefore, the domain of the expression is $\\boxed{{[2,5)}}$.\n'
    'Final Answer: The final answer is $[2,5)$. I hope it is correct.\n'
    'Problem:\n'
    'If $\\det \\mathbf{{A}} = 2$ and $\\det \\mathbf{{B}} = 12,$ then find $\\det (\\mathbf{{A}} '
    '\\mathbf{{B}}).$\n'
    'Solution:\n'
    'We have that $\\det (\\mathbf{{A}} \\mathbf{{B}}) = (\\det \\mathbf{{A}})(\\det \\mathbf{{B}}) = (2)(12) = '
    '\\boxed{{24}}.$\n'
    'Final Answer: The final answer is $24$. I hope it is correct.\n'
    'Problem:\n'
    'Terrell usually lifts two 20-pound weights 12 times. If he uses two 15-pound weights instead, how '
    'many times must Terrell lift them in order to lift the same total weight?\n'
    'Solution:\n'
    'If Terrell lifts two 20-pound weights 12 times, he lifts a total of $2\\cdot 12\\cdot20=480$ pounds of '
    'weight. If he lifts two 15-pound weights instead for $n$ times, he will lift a total of '
    '$2\\cdot15\\cdot n=30n$ pounds of weight. Equating this to 480 pounds, we can solve for $n$: '
    '\\begin{{align*}} 30n&=480\\\\ \\Rightarrow\\qquad n&=480/30=\\boxed{{16}} \\end{{align*}}\n'
    'Final Answer: The final answer is $16$. I hope it is correct.\n'
    'Problem:\n'
    'If the system of equations: \\begin{{align*}} 6x-4y&=a,\\\\ 6y-9x &=b. \\end{{align*}}has a solution '
    '$(x, y)$ where $x$ and $y$ are both nonzero, find $\\frac{{a}}{{b}},$ assuming $b$ is nonzero.\n'
    'Solution:\n'
    'If we multiply the first equation by $-\\frac{{3}}{{2}}$, we obtain $$6y-9x=-\\frac{{3}}{{2}}a.$$Since '
    'we also know that $6y-9x=b$, we have '
    '$$-\\frac{{3}}{{2}}a=b\\Rightarrow\\frac{{a}}{{b}}=\\boxed{{-\\frac{{2}}{{3}}}}.$$\n'
    'Final Answer: The final answer is $-\\frac{{2}}{{3}}$. I hope it is correct.\n'
)
# Minerva's lists (OpenCompass took them from the paper) with OpenCompass's additions
SUBSTITUTIONS = (*minerva.SUBSTITUTIONS, ("\\le", "<"))
REMOVED = (*minerva.REMOVED, "\n", "\r", "\f")


def prompt(problem: str, shots: bool = True) -> str:
    return f"{EXEMPLARS if shots else ''}Problem:\n{problem}\nSolution:\n"


def _normalize(text: str) -> str:
    """OpenCompass's normalisation of a final-answer sentence: units and spaces removed, the last `\\boxed{}` or
    `$...$` kept, `\\fracab` -> `\\frac{a}{b}`."""
    for before, after in SUBSTITUTIONS:
        text = text.replace(before, after)
    for unit in REMOVED:  # everywhere, inside words and commands too, as EvalScope 0.5.5 does
        text = text.replace(unit, "")
    for command in ("text", "textbf", "overline"):
        text = re.sub(rf"(\\{command}\{{)(.*?)(\}})", "\\2", text)
    text = re.sub(r"(\\boxed\{)(.*)(\})", "\\2", text)
    for pattern in (r"finalansweris(.*)", r"oxed\{(.*?)\}", r"\$(.*?)\$"):
        found = re.findall(pattern, text)
        text = found[-1] if found else text
    text = text.strip()
    if "rac" in text and "\\frac" not in text:
        text = text.replace("rac", "\\frac")
    text = re.sub(r"(frac)([^{])(.)", "frac{\\2}{\\3}", text)
    text = re.sub(r"(sqrt)([^{])", "sqrt{\\2}", text).replace("$", "")
    return text.replace(",", "") if text.replace(",", "").isdigit() else text


def answer(reply: str) -> str:
    """The first sentence (split at every '.') that says "final answer", else the reply's first sentence,
    normalised."""
    sentences = reply.split(".")
    return _normalize(next((s for s in sentences if "final answer" in s.lower()), sentences[0]))


def correct(reply: str, solution: str) -> bool:
    """The reply's answer equals the solution's last `\\boxed{}` after MATH's normalisation."""
    return is_equiv(answer(reply), last_boxed(solution))
