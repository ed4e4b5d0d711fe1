"""Math answers compared: Math-Verify (`mathverify`), MATH's string match (`hendrycks`), Minerva's normalisation
(`minerva`) and EvalScope 0.5's reading (`evalscope05`)."""
