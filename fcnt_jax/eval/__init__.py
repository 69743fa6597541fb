"""Evaluation: OPE metrics over result files."""
