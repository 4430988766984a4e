"""Quality gates: heuristic, validators, LLM judge, logprob confidence, learned."""
