"""The landscape commands: one module per experiment (its config in, its result file
out) and the plain-parameter policy API."""
