"""The whole DAG as plain functions: typed config and files, step keys, steps, report, comparison, demo data."""
