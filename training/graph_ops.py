"""Which TensorFlow ops a SavedModel's graph uses, and which are not core.

A model served by the stock `tensorflow/serving` image on a CPU-only host
may use only ops that every TensorFlow build registers: no cuDNN kernels
(`CudnnRNN*`, which Keras bakes in when it traces on a GPU) and no Python
callbacks (`PyFunc`, which need the exporting process).
"""

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

# Registered in tf.raw_ops but unusable on a CPU-only model server.
_UNSERVABLE_PREFIXES = ("Cudnn",)
_UNSERVABLE_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


def _read_saved_model(export_dir):
    path = tf.io.gfile.join(str(export_dir), "saved_model.pb")
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"No saved_model.pb in {export_dir}")
    saved_model = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(path, "rb") as f:
        saved_model.ParseFromString(f.read())
    return saved_model


def saved_model_ops(export_dir):
    """Returns the sorted set of op names in a SavedModel directory.

    Covers the graph and every function in its library (where Keras's
    `while` loop bodies and signatures live).
    """
    ops = set()
    for meta_graph in _read_saved_model(export_dir).meta_graphs:
        graph = meta_graph.graph_def
        ops.update(node.op for node in graph.node)
        for function in graph.library.function:
            ops.update(node.op for node in function.node_def)
    return sorted(ops)


def xla_compiled_functions(export_dir):
    """The library functions of a SavedModel that must be compiled by XLA.

    Such a function (`tf.function(jit_compile=True)`, e.g. the zoo's compiled
    recurrence) runs only where XLA is built in and allowed; the project's
    exports leave them out, so that a model server needs no XLA at all.
    """
    names = set()
    for meta_graph in _read_saved_model(export_dir).meta_graphs:
        for function in meta_graph.graph_def.library.function:
            if function.attr["_XlaMustCompile"].b:
                names.add(function.signature.name)
    return sorted(names)


def non_core_ops(ops):
    """The ops in `ops` that a stock CPU TensorFlow Serving cannot run."""
    return sorted(
        op
        for op in ops
        if op in _UNSERVABLE_OPS
        or op.startswith(_UNSERVABLE_PREFIXES)
        or not hasattr(tf.raw_ops, op)
    )
