"""The whole DAG as plain functions: its typed config, step keys, steps and report."""
