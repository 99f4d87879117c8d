"""What every stage shares: errors, progress, run summaries, devices, jsonl and checkpoint files."""
