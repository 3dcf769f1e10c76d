"""The vocabulary every layer shares: run config, fixes, scenarios, step records and History, tag names."""
