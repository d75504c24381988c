"""TensorFlow worker processes and the channel to them: the only code that knows about processes.

The front (gRPC, REST, core, batching, repository, metrics) never imports TensorFlow. Each worker
process loads every served version and runs the calls the front sends it, one at a time, over a
UNIX socket pair (`channel`). The front sees a `LoadedVersion` whose `run` returns arrays.
"""
