"""The TensorFlow settings of the flags, applied where TensorFlow takes them: a TF1 Session's
ConfigProto, and the process-wide graph options that TF2 functions are optimized with."""

import tensorflow as tf

from service.shared.options import RuntimeOptions

BFLOAT16 = "bfloat16"


def session_config(options: RuntimeOptions) -> tf.compat.v1.ConfigProto:
    """The ConfigProto a TF1 SavedModel's Session is created with."""
    config = tf.compat.v1.ConfigProto.FromString(options.session_config)
    if options.xla_cpu_compilation_enabled:
        config.graph_options.optimizer_options.global_jit_level = tf.compat.v1.OptimizerOptions.ON_1
    if options.mixed_precision == BFLOAT16:
        rewrites = config.graph_options.rewrite_options
        rewrites.auto_mixed_precision_onednn_bfloat16 = 1  # RewriterConfig.ON
    return config


def apply_graph_options(options: RuntimeOptions) -> None:
    """Set the optimizer options of the functions TF2 SavedModels run. They are process-wide
    and the same for every version (fixed at start-up), so setting them again changes nothing."""
    if options.xla_cpu_compilation_enabled:
        tf.config.optimizer.set_jit("autoclustering")
    if options.mixed_precision == BFLOAT16:
        tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": True})
