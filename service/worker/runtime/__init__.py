"""One loaded SavedModel version: its signatures, the facts its export recorded, and the call."""
