"""Truncated RTRL: the 1997 paper's own learning rule, an update every step.

Hochreiter & Schmidhuber (1997), Section 4 and Appendix A.1, learn on line
with a variant of real-time recurrent learning (RTRL). Errors arriving at a
memory cell's net inputs (net_c, net_in, net_out) are not propagated back in
time; only the internal state s_c carries error backwards, through the
constant error carousel. So the only derivatives to carry forward in time
are those of each cell state with respect to the weights of its own cell
input and of its block's input gate, with y^m(t-1) the presynaptic
activations (inputs, cell outputs, gates, and 1 for a bias):

    ∂s_c(t)/∂w_{in_j m} = ∂s_c(t-1)/∂w_{in_j m} + g(net_c(t)) f'(net_in_j(t)) y^m(t-1)
    ∂s_c(t)/∂w_{c m}    = ∂s_c(t-1)/∂w_{c m}    + g'(net_c(t)) y^{in_j}(t) y^m(t-1)

After every step with a target, the output errors are sent one step back
and the weights change at once (Δw = α · error · presynaptic activation):

    e_k(t)     = f'_k(net_k(t)) (t^k(t) - y^k(t))
    e_out_j(t) = f'(net_out_j(t)) Σ_{v in block j} h(s_v(t)) Σ_k w_{k v} e_k(t)
    e_s_c(t)   = y^{out_j}(t) h'(s_c(t)) Σ_k w_{k c} e_k(t)
    Δw_{k c}   = α e_k(t) y^c(t)               Δw_{out_j m} = α e_out_j(t) y^m(t-1)
    Δw_{in_j m} = α Σ_{v in block j} e_s_v(t) ∂s_v(t)/∂w_{in_j m}
    Δw_{c m}    = α e_s_c(t) ∂s_c(t)/∂w_{c m}

`OriginalLSTM` computes the same truncated gradient by backpropagation
(a stop-gradient on y^m(t-1)), which `training.reproduce.online_sgd`
applies once per sequence. Where targets come at every step (Exp. 1, the
embedded Reber grammar), the two differ: RTRL moves the weights after every
step, and the carried derivatives mix the weights of each moment. This
module is that rule, for the paper's networks, in float64 NumPy: the
networks have a few hundred weights, so one step is a few dozen small
array operations.
"""

import numpy as np

from zoo.layers.original_lstm import OriginalLSTM, squash_g, squash_h


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _g(x):  # g(x) = 2 tanh(x/2), in [-2, 2]
    return 2.0 * np.tanh(x / 2.0)


def _g_prime(x):
    return 1.0 - np.tanh(x / 2.0) ** 2


def _h(x):  # h(x) = tanh(x/2), in [-1, 1]
    return np.tanh(x / 2.0)


def _h_prime(x):
    return 0.5 * (1.0 - np.tanh(x / 2.0) ** 2)


class TruncatedRTRL:
    """On-line learning of a 1997 network with the paper's truncated RTRL.

    The trainer keeps the weights in float64 and writes them into the Keras
    model after every chunk, so the model (and `predict`) always holds what
    has been learned.

    Args:
        model: A network of `training.reproduce.networks.build_network`
            with the 1997 cell: an `OriginalLSTM` with output gates, "full"
            recurrence, the truncated gradient, the paper's squashers g and
            h and no dropout, followed by the output layer "output" (logistic
            or linear), which hears the cell outputs only.
        learning_rate: α.

    Example:

    >>> from training.reproduce.networks import build_network
    >>> net = build_network("reber_3x2", masking=True)
    >>> trainer = TruncatedRTRL(net, learning_rate=0.5)
    >>> x = np.eye(7, dtype="float32")[None, [0, 1, 2]]   # the symbols B, T, P
    >>> targets = np.eye(7, dtype="float32")[None, [1, 2, 3]]
    >>> trainer.run(x, targets, np.ones((1, 3), bool))["loss"].shape
    (1,)
    """

    def __init__(self, model, learning_rate):
        if not learning_rate > 0:
            raise ValueError(
                f"Argument `learning_rate` must be positive. Received: learning_rate={learning_rate!r}"
            )
        layers = [layer for layer in model.layers if isinstance(layer, OriginalLSTM)]
        if len(layers) != 1:
            raise ValueError(
                f"TruncatedRTRL needs a network with one OriginalLSTM layer; "
                f"model {model.name!r} has {len(layers)}"
            )
        cell = layers[0].cell
        output = model.get_layer("output")
        problems = [
            (not cell.output_gate, "output_gate=False"),
            (cell.recurrence != "full", f"recurrence={cell.recurrence!r}"),
            (not cell.truncated_gradient, "truncated_gradient=False"),
            (cell.cell_input_activation is not squash_g, "a cell input squasher other than g"),
            (cell.cell_output_activation is not squash_h, "a cell output squasher other than h"),
            (cell.dropout or cell.recurrent_dropout, "dropout"),
            (output.kernel.shape[0] != cell.units, "outputs that hear more than the cells"),
            (output.activation.__name__ not in ("sigmoid", "linear"),
             f"output activation {output.activation.__name__!r}"),
        ]
        unsupported = [what for bad, what in problems if bad]
        if unsupported:
            raise ValueError(
                f"TruncatedRTRL implements the 1997 cell with output gates, full "
                f"recurrence, the truncated gradient, g and h, and outputs that hear "
                f"the cells; model {model.name!r} has {', '.join(unsupported)}"
            )
        self.model, self.cell, self.output = model, cell, output
        self.learning_rate = float(learning_rate)
        self.logistic_output = output.activation.__name__ == "sigmoid"
        self.blocks, self.cells = cell.blocks, cell.units
        # block_of[c]: the block whose gates cell c shares.
        self.block_of = np.repeat(np.arange(cell.blocks), cell.block_size)
        self.per_block = np.eye(cell.blocks)[self.block_of]  # (cells, blocks): Σ_v over a block
        self._read_weights()

    # --- weights: Keras variables <-> one matrix per unit group

    def _read_weights(self):
        """W_in, W_out, W_c over the presynaptic vector
        p(t) = [x(t), y_c(t-1), y_in(t-1), y_out(t-1), 1]; the last row is
        the bias (zero and frozen where the unit has none)."""
        cell, B = self.cell, self.blocks
        kernel = np.asarray(cell.kernel.numpy(), np.float64)
        recurrent = np.asarray(cell.recurrent_kernel.numpy(), np.float64)

        def group(columns, bias):
            row = np.zeros((1, columns.stop - columns.start))
            if bias is not None:
                row[0] = bias.numpy()
            return np.concatenate([kernel[:, columns], recurrent[:, columns], row])

        self.W_in = group(slice(0, B), cell.b_in)
        self.W_out = group(slice(B, 2 * B), cell.b_out)
        self.W_c = group(slice(2 * B, 2 * B + self.cells), cell.b_c)
        self.has_bias = {
            "in": cell.b_in is not None, "out": cell.b_out is not None, "c": cell.b_c is not None,
        }
        self.W_k = np.asarray(self.output.kernel.numpy(), np.float64)
        self.b_k = None if self.output.bias is None else np.asarray(self.output.bias.numpy(), np.float64)
        self.inputs = kernel.shape[0]

    def _write_weights(self):
        cell, I = self.cell, self.inputs
        W = np.concatenate([self.W_in, self.W_out, self.W_c], axis=1)
        cell.kernel.assign(W[:I].astype("float32"))
        cell.recurrent_kernel.assign(W[I:-1].astype("float32"))
        for name, bias, matrix in (("in", cell.b_in, self.W_in), ("out", cell.b_out, self.W_out),
                                   ("c", cell.b_c, self.W_c)):
            if self.has_bias[name]:
                bias.assign(matrix[-1].astype("float32"))
        self.output.kernel.assign(self.W_k.astype("float32"))
        if self.b_k is not None:
            self.output.bias.assign(self.b_k.astype("float32"))

    # --- one sequence, on line

    def _learn_sequence(self, x, targets, length):
        """Runs one sequence, changing the weights after each step; returns
        (E summed over its steps, largest |t - y|, outputs at the last step)."""
        alpha, block_of = self.learning_rate, self.block_of
        y_c, s = np.zeros(self.cells), np.zeros(self.cells)
        y_in, y_out = np.zeros(self.blocks), np.zeros(self.blocks)
        ds_dW_in = np.zeros_like(self.W_c)  # ∂s_c/∂w_{in_j(c) m}, one column per cell
        ds_dW_c = np.zeros_like(self.W_c)   # ∂s_c/∂w_{c m}
        loss, max_error, y_k = 0.0, 0.0, None
        for t in range(length):
            p = np.concatenate([x[t], y_c, y_in, y_out, [1.0]])  # y^m(t-1)
            net_in, net_out, net_c = p @ self.W_in, p @ self.W_out, p @ self.W_c
            y_in, y_out = _sigmoid(net_in), _sigmoid(net_out)
            # s_c(t) = s_c(t-1) + y^in(t) g(net_c(t))
            s = s + y_in[block_of] * _g(net_c)
            # The carried derivatives (Appendix A.1), f'(net_in) = y_in (1 - y_in).
            ds_dW_in += np.outer(p, _g(net_c) * (y_in * (1.0 - y_in))[block_of])
            ds_dW_c += np.outer(p, _g_prime(net_c) * y_in[block_of])
            # y^c(t) = y^out(t) h(s_c(t))
            y_c = y_out[block_of] * _h(s)
            net_k = y_c @ self.W_k + (0.0 if self.b_k is None else self.b_k)
            y_k = _sigmoid(net_k) if self.logistic_output else net_k
            # e_k(t) = f'_k(net_k(t)) (t^k(t) - y^k(t))
            difference = targets[t] - y_k
            loss += 0.5 * float(difference @ difference)
            max_error = max(max_error, float(np.abs(difference).max()))
            e_k = y_k * (1.0 - y_k) * difference if self.logistic_output else difference
            back = self.W_k @ e_k  # Σ_k w_{k c} e_k(t), before w_{k c} changes
            e_out = (y_out * (1.0 - y_out)) * ((_h(s) * back) @ self.per_block)
            e_s = y_out[block_of] * _h_prime(s) * back
            # Δw = α · error · presynaptic activation
            self.W_k += alpha * np.outer(y_c, e_k)
            if self.b_k is not None:
                self.b_k += alpha * e_k
            self._change(self.W_out, alpha * np.outer(p, e_out), "out")
            self._change(self.W_in, alpha * (ds_dW_in * e_s) @ self.per_block, "in")
            self._change(self.W_c, alpha * ds_dW_c * e_s, "c")
        return loss, max_error, y_k

    def _change(self, W, delta, group):
        if not self.has_bias[group]:
            delta[-1] = 0.0  # a unit without a bias keeps none
        W += delta

    # --- the OnlineSGD interface that training.reproduce.reproduction drives

    def run(self, inputs, targets, mask):
        """Trains on a chunk of sequences, one after another.

        Args:
            inputs: `(K, time, features)`, zero-padded.
            targets: `(K, time, outputs)`: a target at every real step.
            mask: bool `(K, time)`, True on real steps.

        Returns:
            A dict of numpy arrays, one row per sequence, measured as the
            sequence was met, step by step: `loss` (E summed over its steps),
            `max_error` (largest |t - y|), `outputs` (at its last real step).
        """
        targets = np.asarray(targets, np.float64)
        if targets.ndim != 3:
            raise ValueError(
                f"TruncatedRTRL learns from a target at every step, (K, time, outputs). "
                f"Received: targets of shape {targets.shape}"
            )
        inputs, lengths = np.asarray(inputs, np.float64), np.asarray(mask).sum(axis=1)
        losses, max_errors, outputs = [], [], []
        for x, target, length in zip(inputs, targets, lengths):
            loss, max_error, last = self._learn_sequence(x, target, int(length))
            losses.append(loss)
            max_errors.append(max_error)
            outputs.append(last)
        self._write_weights()
        return {
            "loss": np.array(losses),
            "max_error": np.array(max_errors),
            "outputs": np.array(outputs),
        }

    def predict(self, inputs, batch_size=512):
        """The Keras model's outputs for padded `inputs`."""
        return self.model.predict(np.asarray(inputs, "float32"), batch_size=batch_size, verbose=0)
