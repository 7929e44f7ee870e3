"""Online gradient descent, one update per sequence, compiled.

The 1997 paper trains on line: plain gradient descent with learning rate α
on E = ½ Σ_k (t^k - y^k)², one sequence at a time, no momentum (Section 5;
Appendix A.1). Its networks have about a hundred weights, so one sequence
costs microseconds of arithmetic; calling `model.train_on_batch` once per
sequence would spend milliseconds of Keras and TensorFlow dispatch on each.
`OnlineSGD.run` therefore takes a chunk of K zero-padded sequences and runs
all K updates inside one XLA-compiled function: a `tf.while_loop` over the
sequences, whose body is the forward pass (`model.stateless_call`, with the
weights as loop variables), the gradient, and w <- w - α ∂E/∂w.

Each sequence is seen before the update it causes, as on line learning
sees it, so the returned errors are the "most recent sequences processed"
that the paper's stopping rules count. With `batch_size` B > 1, B sequences
share one update on the mean of their E (a speed-up the paper does not
use; reproduction reports say so).

Where targets come at every step, the paper's RTRL changes the weights at
every step too. `step_updates=True` does the same: after step t the
weights move by -α ∂E(t)/∂w, E(t) being step t's error, with the sequence
up to t recomputed under the current weights (RTRL carries its
derivatives forward under the weights of each moment instead; that rule
is `training.reproduce.rtrl`). It costs one forward and backward pass per
step.
"""

import numpy as np
import tensorflow as tf


class OnlineSGD:
    """Compiled on-line training of a Keras model on padded sequence chunks.

    Args:
        model: A Keras model mapping `(batch, time, features)` sequences to
            outputs; padding steps (all-zero inputs) must be masked inside it
            (e.g. `keras.layers.Masking(0.0)`).
        learning_rate: α.
        per_step: Whether targets are given at every step `(K, time,
            outputs)` (else only at the sequence end, `(K, outputs)`).
        batch_size: Sequences per update (1: the paper's on-line learning).
        jit_compile: Whether to compile the chunk loop with XLA.
        step_updates: With `per_step`, update the weights after every time
            step instead of once per sequence (module docstring).
    """

    def __init__(self, model, learning_rate, per_step=False, batch_size=1, jit_compile=True,
                 step_updates=False):
        if not learning_rate > 0:
            raise ValueError(
                f"Argument `learning_rate` must be positive. Received: learning_rate={learning_rate!r}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"Argument `batch_size` must be a positive integer. Received: batch_size={batch_size!r}"
            )
        if step_updates and not per_step:
            raise ValueError(
                "Argument `step_updates=True` needs targets at every step (per_step=True)"
            )
        self.model = model
        self.step_updates = step_updates
        self.learning_rate = float(learning_rate)
        self.per_step = per_step
        self.batch_size = batch_size
        self._run = tf.function(self._run_chunk, jit_compile=jit_compile)
        self._predict = tf.function(self._forward, jit_compile=jit_compile)

    def _forward(self, inputs):
        outputs, _ = self.model.stateless_call(
            [v.value for v in self.model.trainable_variables],
            [v.value for v in self.model.non_trainable_variables],
            inputs,
        )
        return outputs

    def _errors(self, outputs, targets, mask):
        """Per sequence: E = ½ Σ (t - y)² and the largest |t - y|."""
        difference = targets - outputs
        if self.per_step:
            step_mask = tf.cast(mask, difference.dtype)[:, :, None]
            difference = difference * step_mask
            return (
                0.5 * tf.reduce_sum(tf.square(difference), axis=[1, 2]),
                tf.reduce_max(tf.abs(difference), axis=[1, 2]),
            )
        return 0.5 * tf.reduce_sum(tf.square(difference), -1), tf.reduce_max(tf.abs(difference), -1)

    def _run_chunk(self, params, non_trainable, inputs, targets, mask):
        B = self.batch_size
        updates = inputs.shape[0] // B
        alpha = tf.constant(self.learning_rate, inputs.dtype)

        def rows(tensor, i):  # the i-th update's B sequences
            begin = [i * B] + [0] * (tensor.shape.rank - 1)
            return tf.slice(tensor, begin, [B] + [-1] * (tensor.shape.rank - 1))

        def descend(params, x, y, m):
            """One gradient step on E over the steps in `m`; E and outputs before it."""
            with tf.GradientTape() as tape:
                tape.watch(params)
                outputs, _ = self.model.stateless_call(params, non_trainable, x, training=True)
                loss, max_error = self._errors(outputs, y, m)
                # E summed over the sequence's outputs; the mean over the B
                # sequences of an update (B = 1: exactly the paper's E).
                objective = tf.reduce_mean(loss)
            grads = tape.gradient(objective, params)
            return [p - alpha * g for p, g in zip(params, grads)], loss, max_error, outputs

        def body(i, params, losses, max_errors, final_outputs):
            x, y, m = (rows(tensor, i) for tensor in (inputs, targets, mask))
            if self.step_updates:
                # Errors as the sequence meets the weights it starts with.
                outputs, _ = self.model.stateless_call(params, non_trainable, x)
                loss, max_error = self._errors(outputs, y, m)
                steps = tf.range(x.shape[1])

                def step(t, params):
                    only_t = tf.logical_and(m, tf.equal(steps, t)[None, :])
                    return t + 1, descend(params, x, y, only_t)[0]

                _, params = tf.while_loop(lambda t, _: t < x.shape[1], step, (0, params))
            else:
                params, loss, max_error, outputs = descend(params, x, y, m)
            if self.per_step:
                # The output at each sequence's last real step.
                last = tf.reduce_sum(tf.cast(m, tf.int32), axis=1) - 1
                outputs = tf.gather(outputs, last, batch_dims=1)
            return (
                i + 1,
                params,
                losses.write(i, loss),
                max_errors.write(i, max_error),
                final_outputs.write(i, outputs),
            )

        arrays = [tf.TensorArray(inputs.dtype, size=updates) for _ in range(3)]
        _, params, losses, max_errors, final_outputs = tf.while_loop(
            lambda i, *_: i < updates, body, (0, params, *arrays)
        )
        flat = lambda array: tf.reshape(array.stack(), (updates * B, -1))  # noqa: E731
        return params, flat(losses)[:, 0], flat(max_errors)[:, 0], flat(final_outputs)

    def run(self, inputs, targets, mask):
        """Trains on a chunk of sequences, one update per `batch_size`.

        Args:
            inputs: float32 `(K, time, features)`, zero-padded; K a multiple
                of `batch_size`.
            targets: float32 `(K, outputs)`, or `(K, time, outputs)` with
                `per_step`.
            mask: bool `(K, time)`, True on real steps.

        Returns:
            A dict of numpy arrays, one row per sequence, measured before the
            update that sequence takes part in: `loss` (E), `max_error`
            (largest |t - y| over its outputs, and steps with `per_step`),
            `outputs` (at its last real step).
        """
        if len(inputs) % self.batch_size:
            raise ValueError(
                f"A chunk of {len(inputs)} sequences does not divide into "
                f"batches of batch_size={self.batch_size}"
            )
        params = [v.value for v in self.model.trainable_variables]
        non_trainable = [v.value for v in self.model.non_trainable_variables]
        params, losses, max_errors, outputs = self._run(
            params, non_trainable, tf.constant(inputs), tf.constant(targets), tf.constant(mask)
        )
        for variable, value in zip(self.model.trainable_variables, params):
            variable.assign(value)
        return {
            "loss": losses.numpy(),
            "max_error": max_errors.numpy(),
            "outputs": outputs.numpy(),
        }

    def predict(self, inputs, batch_size=512):
        """The model's outputs for padded `inputs`, compiled, in batches."""
        inputs = np.asarray(inputs, dtype="float32")
        pieces = []
        for start in range(0, len(inputs), batch_size):
            piece = inputs[start : start + batch_size]
            short = batch_size - len(piece)
            if short:  # one compiled shape for every batch
                piece = np.concatenate([piece, np.zeros((short, *piece.shape[1:]), "float32")])
            pieces.append(self._predict(tf.constant(piece)).numpy()[: batch_size - short])
        return np.concatenate(pieces)
