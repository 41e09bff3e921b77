"""Orchestration of whole runs over many episodes: inspect now; augment and convert to come."""
