"""Multi-view spatial grounding tasks and evaluation for VLMs."""
