"""Minerva's MATH setup (Lewkowycz et al. 2022) as lm-eval 0.4.13's minerva_math runs it: four fixed exemplars,
the answer after "Final Answer: The final answer is", the paper's normalisation, a symbolic equality check."""

from __future__ import annotations

import re
from collections.abc import Sequence

from evalscope.deadline import bounded
from evalscope.scoring.extract import last_boxed

FINAL = re.compile(r"Final Answer: The final answer is(.*?). I hope it is correct.")
"""lm-eval's pattern, its unescaped dots included (any character but a newline: an answer over two lines is
invalid)."""
NO_ANSWER = "[invalidanswer]"

# Appendix D of the paper, with lm-eval 0.4.13's amendments: unit words removed only as whole words (so `\left`
# keeps its "ft"), thousands separators removed only from true thousands groups (a tuple "0,1" stays a tuple).
SUBSTITUTIONS = (("an ", ""), ("a ", ""), (".$", "$"), ("\\$", ""), (r"\ ", ""), (" ", ""), ("mbox", "text"),
                 (",\\text{and}", ","), ("\\text{and}", ","), ("\\text{m}", "\\text{}"))
REMOVED = ("square", "ways", "integers", "dollars", "mph", "inches", "ft", "hours", "km", "units", "\\ldots", "sue",
           "points", "feet", "minutes", "digits", "cents", "degrees", "cm", "gm", "pounds", "meters", "meals",
           "edges", "students", "childrentickets", "multiples", "\\text{s}", "\\text{.}", "\\text{\ns}",
           "\\text{}^2", "\\text{}^3", "\\text{\n}", "\\text{}", r"\mathrm{th}", r"^\circ", r"^{\circ}", r"\;",
           r",\!", "{,}", '"', "\\dots")
_COMMAND = re.compile(r"(\\[a-zA-Z]+)")


def final_answer(reply: str) -> str:
    """The text after "Final Answer: The final answer is" ("[invalidanswer]" without it). As in lm-eval, which
    appends "I hope it is correct." before matching, a reply cut off after "is $4$. " still counts."""
    match = FINAL.search(reply + "I hope it is correct.")
    return match.group(1).strip() if match else NO_ANSWER


def _without_units(text: str, unit: str) -> str:
    """Remove a unit word glued to its neighbours, outside LaTeX command names."""
    pieces = _COMMAND.split(text)
    return "".join(p if i % 2 else p.replace(unit, "") for i, p in enumerate(pieces))


def normalize_final_answer(answer: str) -> str:
    """The paper's normalisation: the right-hand side of the last `=`, units and decorations removed, the math
    inside `$...$`, `\\boxed{}`, `\\text{}` kept, `\\frac12` -> `\\frac{1}{2}`, `\\sqrt2` -> `\\sqrt{2}`."""
    text = answer.split("=")[-1]
    for unit in REMOVED:
        if unit.isalpha():  # while spaces still delimit words
            text = re.sub(rf"(?<!\\)\b{unit}\b", "", text)
    for before, after in SUBSTITUTIONS:
        text = text.replace(before, after)
    for unit in REMOVED:
        text = _without_units(text, unit) if unit.isalpha() else text.replace(unit, "")
    text = re.sub(r"(.*?)(\$)(.*?)(\$)(.*)", "$\\3$", text)
    for command in ("text", "textbf", "overline"):
        text = re.sub(rf"(\\{command}\{{)(.*?)(\}})", "\\2", text)
    text = re.sub(r"(\\boxed\{)(.*)(\})", "\\2", text)
    text = re.sub(r"(frac)([^{])(.)", "frac{\\2}{\\3}", text)
    text = re.sub(r"(sqrt)(\[[^\]]*\])(\w)", "\\1\\2{\\3}", text)  # \sqrt[3]a, before the plain \sqrta rule
    text = re.sub(r"(sqrt)(?!\[)([^{])", "sqrt{\\2}", text).replace("$", "")
    if re.fullmatch(r"-?\d{1,3}(,\d{3})+", text):
        text = text.replace(",", "")
    return text


def target_answer(solution: str) -> str:
    """The normalised answer of a reference solution: its last `\\boxed{}`."""
    return normalize_final_answer(last_boxed(solution) or "")


@bounded(lambda answer, target: False, warm=("math_verify", "sympy"))
def equivalent(answer: str, target: str) -> bool:
    """Identical strings, or LaTeX whose difference simplifies to 0. lm-eval parses with sympy's ANTLR 4.11
    grammar, which cannot coexist with Math-Verify's ANTLR 4.13 runtime; Math-Verify's own LaTeX parser
    (latex2sympy2_extended) stands in. It also reads intervals and tuples, which sympy's refuses (lm-eval then
    says not equal unless the strings are identical): see benchmarks/competition_math/README.md. Under the
    checker deadline (sympy may compute for ever)."""
    if answer and answer == target:
        return True
    import sympy
    from latex2sympy2_extended import latex2sympy

    try:
        return bool(sympy.simplify(latex2sympy(answer) - latex2sympy(target)) == 0)
    except Exception:  # any parse or algebra failure means "not shown equal", as in lm-eval
        return False


@bounded(lambda solution, reply: False, warm=("math_verify",))
def lm_eval_verify(solution: str, reply: str) -> bool:
    """lm-eval's `math_verify` metric: Math-Verify's default reading of the whole solution and the whole reply."""
    from math_verify import parse, verify

    try:
        return bool(verify(parse(solution, parsing_timeout=None), parse(reply, parsing_timeout=None),
                           timeout_seconds=None))
    except Exception:  # sympy raises anything on odd input; an answer it cannot compare is wrong
        return False


# The paper's four exemplars, as lm-eval's minerva_math shows them (its `list_fewshot_samples`).
EXEMPLARS = (
    ("Find the domain of the expression  $\\frac{\\sqrt{x-2}}{\\sqrt{5-x}}$.",
     "The expressions inside each square root must be non-negative. Therefore, $x-2 \\ge 0$, so $x\\ge2$, and "
     "$5 - x \\ge 0$, so $x \\le 5$. Also, the denominator cannot be equal to zero, so $5-x>0$, which gives "
     "$x<5$. Therefore, the domain of the expression is $\\boxed{[2,5)}$.\nFinal Answer: The final answer is "
     "$[2,5)$. I hope it is correct."),
    ("If $\\det \\mathbf{A} = 2$ and $\\det \\mathbf{B} = 12,$ then find $\\det (\\mathbf{A} \\mathbf{B}).$",
     "We have that $\\det (\\mathbf{A} \\mathbf{B}) = (\\det \\mathbf{A})(\\det \\mathbf{B}) = (2)(12) = "
     "\\boxed{24}.$\nFinal Answer: The final answer is $24$. I hope it is correct."),
    ("Terrell usually lifts two 20-pound weights 12 times. If he uses two 15-pound weights instead, how many times "
     "must Terrell lift them in order to lift the same total weight?",
     "If Terrell lifts two 20-pound weights 12 times, he lifts a total of $2\\cdot 12\\cdot20=480$ pounds of "
     "weight.  If he lifts two 15-pound weights instead for $n$ times, he will lift a total of "
     "$2\\cdot15\\cdot n=30n$ pounds of weight.  Equating this to 480 pounds, we can solve for $n$:\n"
     "\\begin{align*}\n30n&=480\\\\\n\\Rightarrow\\qquad n&=480/30=\\boxed{16}\n\\end{align*}\nFinal Answer: The "
     "final answer is $16$. I hope it is correct."),
    ("If the system of equations\n\n\\begin{align*}\n6x-4y&=a,\\\\\n6y-9x &=b.\n\\end{align*}has a solution "
     "$(x, y)$ where $x$ and $y$ are both nonzero,\nfind $\\frac{a}{b},$ assuming $b$ is nonzero.",
     "If we multiply the first equation by $-\\frac{3}{2}$, we obtain\n\n$$6y-9x=-\\frac{3}{2}a.$$Since we also "
     "know that $6y-9x=b$, we have\n\n$$-\\frac{3}{2}a=b\\Rightarrow\\frac{a}{b}=\\boxed{-\\frac{2}{3}}.$$\n"
     "Final Answer: The final answer is $-\\frac{2}{3}$. I hope it is correct."),
)


def prompt(problem: str, shots: Sequence[tuple[str, str]]) -> str:
    """lm-eval's context: each (problem, solution) exemplar as "Problem:\\n...\\n\\nSolution: ..." and a blank
    line, then the problem."""
    asked = "".join(f"Problem:\n{p}\n\nSolution: {s}\n\n" for p, s in shots)
    return f"{asked}Problem:\n{problem}\n\nSolution:"
