"""Readers of model text: pure functions from a reply to an answer or a verdict (no Benchmark, no pytest).

`extract` reads numbers, letters and boxed answers; `overlap` token F1; `instructions` IFEval's checkers;
`math/` compares math answers (Math-Verify, MATH's string match, Minerva's normalisation, EvalScope 0.5's reading).
"""
