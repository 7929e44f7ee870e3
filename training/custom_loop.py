"""`model.fit` for MultiWorkerMirroredStrategy, as tf.distribute's custom loop.

Keras 3.15's `fit` fails under MultiWorkerMirroredStrategy ("Attempt to
convert a value (PerReplica:{...}) to a Tensor", keras-team/keras#20585).
This is the loop TensorFlow's distributed-training guide writes instead:
`strategy.run` of one step per replica over a distributed dataset, each
replica's loss summed and divided by the weight of the *global* batch
(examples for a classifier, real target tokens for a translator), gradients
all-reduced by the optimizer under the strategy. It drives the same Keras callbacks as
`fit` (run state, backup and restore, TensorBoard, NaN stop, time limit), so the CLI,
checkpoints and resumption behave as in a single-process run: a callback that
sets `model.stop_training` in a batch ends the epoch there, which is then
validated and ended with `on_epoch_end`, and training ends, as under `fit`.
"""

import keras
import tensorflow as tf


def _weighted_sums(model, batch, training):
    """Per-replica sums of one batch: (weighted loss, weight, weighted correct).

    A batch is `(x, y)` or `(x, y, sample_weight)`, as under `fit`. The loss
    is summed element by element (one per example for a classifier, one per
    target token for a translator, whose weights mask out padding), so that
    dividing by the weight summed over every replica gives the same mean as
    one large batch on one device.
    """
    x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(batch)
    predictions = model(x, training=training)
    # The compiled loss object, unreduced: one value per element of y.
    per_element = tf.cast(model.loss.call(y, predictions), tf.float32)
    weight = tf.ones_like(per_element) if sample_weight is None else tf.cast(sample_weight, tf.float32)
    correct = tf.cast(keras.metrics.sparse_categorical_accuracy(y, predictions), tf.float32)
    return (
        tf.reduce_sum(per_element * weight),
        tf.reduce_sum(weight),
        tf.reduce_sum(correct * weight),
    )


def fit_distributed(
    strategy,
    model,
    train_dataset,
    steps_per_epoch,
    validation_dataset,
    epochs,
    initial_epoch,
    callbacks,
    verbose=True,
):
    """Trains `model` (compiled, built under `strategy.scope()`) like `fit`.

    Args:
        train_dataset: Global batches of every epoch from `initial_epoch` on,
            `(x, y)` or `(x, y, sample_weight)`.
        validation_dataset: Global batches of the validation set, alike.
        callbacks: Keras callbacks; they see `loss`, `accuracy`, `val_loss`
            and `val_accuracy`, as under `fit`. A stop one worker's callbacks
            ask for after a batch (`model.stop_training`) stops every worker
            after that batch.
    """
    optimizer = model.optimizer

    @tf.function
    def train_step(iterator):
        def step(*batch):
            with tf.GradientTape() as tape:
                loss_sum, weight, correct = _weighted_sums(model, batch, True)
                # Mean over the global batch: every replica divides by the
                # weight of all of them.
                global_weight = tf.distribute.get_replica_context().all_reduce(
                    tf.distribute.ReduceOp.SUM, weight
                )
                loss = tf.math.divide_no_nan(loss_sum, global_weight)
                if model.losses:
                    loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
                # Loss scaling under mixed_float16; the identity otherwise.
                scaled = optimizer.scale_loss(loss)
            gradients = tape.gradient(scaled, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            return loss_sum, weight, correct

        results = strategy.run(step, args=next(iterator))
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, r, axis=None) for r in results]

    @tf.function
    def any_worker(flag):
        # A stop decided from one worker's own state (the chief's clock in
        # `TimeLimit`) must stop all of them after the same batch: a worker
        # going on alone would wait for the others in its next all-reduce
        # forever. One scalar all-reduce a step; SUM, which every
        # cross-device implementation supports.
        flags = strategy.run(lambda: tf.identity(flag))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, flags, axis=None)

    @tf.function
    def validation_step(batch):
        results = strategy.run(lambda *b: _weighted_sums(model, b, False), args=batch)
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, r, axis=None) for r in results]

    def epoch_logs(sums, prefix=""):
        loss_sum, weight, correct = sums
        return {
            f"{prefix}loss": loss_sum / max(weight, 1e-9),
            f"{prefix}accuracy": correct / max(weight, 1e-9),
        }

    callback_list = keras.callbacks.CallbackList(callbacks, model=model)
    iterator = iter(strategy.experimental_distribute_dataset(train_dataset))
    distributed_validation = strategy.experimental_distribute_dataset(validation_dataset)
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        sums = [0.0, 0.0, 0.0]
        for batch in range(steps_per_epoch):
            callback_list.on_train_batch_begin(batch)
            sums = [total + float(value) for total, value in zip(sums, train_step(iterator))]
            callback_list.on_train_batch_end(batch, epoch_logs(sums))
            if float(any_worker(tf.constant(float(bool(model.stop_training))))) > 0:
                model.stop_training = True
                break
        logs = epoch_logs(sums)
        validation_sums = [0.0, 0.0, 0.0]
        for validation_batch in distributed_validation:
            validation_sums = [
                total + float(value)
                for total, value in zip(validation_sums, validation_step(validation_batch))
            ]
        logs.update(epoch_logs(validation_sums, "val_"))
        if verbose:
            shown = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
            print(f"Epoch {epoch + 1}/{epochs} - {shown}", flush=True)
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end()
