"""The evaluate hot path: the compiled engine, its keys and the mixing of
perturbed parameters."""
