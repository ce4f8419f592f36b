"""Checking an edit: new static problems (syntax, names that do not resolve, lint),
then the tests that touch it; and reading test output back to the model."""
