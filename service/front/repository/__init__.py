"""Which model versions exist, which should be served, and loading them without a gap.

After TensorFlow Serving's design: a source lists the aspired versions of each model, a manager
loads and unloads to match while keeping one version available, and requests hold a lease on the
version they use so that an unload waits for them.
"""
