"""`model.fit` for MultiWorkerMirroredStrategy, as tf.distribute's custom loop.

Keras 3.15's `fit` fails under MultiWorkerMirroredStrategy ("Attempt to
convert a value (PerReplica:{...}) to a Tensor", keras-team/keras#20585).
This is the loop TensorFlow's distributed-training guide writes instead:
`strategy.run` of one step per replica over a distributed dataset, each
replica's loss averaged over the *global* batch, gradients all-reduced by
the optimizer under the strategy. It drives the same Keras callbacks as
`fit` (run state, backup and restore, TensorBoard, NaN stop), so the CLI,
checkpoints and resumption behave as in a single-process run.
"""

import keras
import tensorflow as tf


def _loss_and_correct(model, x, y, global_batch_size, training):
    predictions = model(x, training=training)
    # The compiled loss object, unreduced: one value per example.
    per_example = model.loss.call(y, predictions)
    loss = tf.nn.compute_average_loss(per_example, global_batch_size=global_batch_size)
    if model.losses:
        loss += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
    correct = tf.reduce_sum(
        tf.cast(keras.metrics.sparse_categorical_accuracy(y, predictions), tf.float32)
    )
    return loss, correct, tf.cast(tf.shape(y)[0], tf.float32)


def fit_distributed(
    strategy,
    model,
    train_dataset,
    steps_per_epoch,
    validation_dataset,
    epochs,
    initial_epoch,
    global_batch_size,
    callbacks,
    verbose=True,
):
    """Trains `model` (compiled, built under `strategy.scope()`) like `fit`.

    Args:
        train_dataset: Global batches of every epoch from `initial_epoch` on.
        validation_dataset: Global batches of the validation set.
        callbacks: Keras callbacks; they see `loss`, `accuracy`, `val_loss`
            and `val_accuracy`, as under `fit`.
    """
    optimizer = model.optimizer

    @tf.function
    def train_step(iterator):
        def step(x, y):
            with tf.GradientTape() as tape:
                loss, correct, count = _loss_and_correct(model, x, y, global_batch_size, True)
            gradients = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, model.trainable_variables))
            return loss, correct, count

        results = strategy.run(step, args=next(iterator))
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, r, axis=None) for r in results]

    @tf.function
    def validation_step(batch):
        def step(x, y):
            return _loss_and_correct(model, x, y, global_batch_size, False)

        results = strategy.run(step, args=batch)
        return [strategy.reduce(tf.distribute.ReduceOp.SUM, r, axis=None) for r in results]

    callback_list = keras.callbacks.CallbackList(callbacks, model=model)
    iterator = iter(strategy.experimental_distribute_dataset(train_dataset))
    distributed_validation = strategy.experimental_distribute_dataset(validation_dataset)
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(initial_epoch, epochs):
        callback_list.on_epoch_begin(epoch)
        loss_sum = correct = count = 0.0
        for batch in range(steps_per_epoch):
            callback_list.on_train_batch_begin(batch)
            loss, batch_correct, batch_count = train_step(iterator)
            loss_sum += float(loss)
            correct += float(batch_correct)
            count += float(batch_count)
            callback_list.on_train_batch_end(batch, {"loss": loss_sum / (batch + 1)})
            if model.stop_training:
                break
        logs = {"loss": loss_sum / max(batch + 1, 1), "accuracy": correct / max(count, 1.0)}
        val_loss = val_correct = val_count = 0.0
        for val_batch in distributed_validation:
            loss, batch_correct, batch_count = validation_step(val_batch)
            # The loss was averaged over a full global batch; weight it by
            # the examples the batch really held.
            val_loss += float(loss) * global_batch_size
            val_correct += float(batch_correct)
            val_count += float(batch_count)
        logs["val_loss"] = val_loss / max(val_count, 1.0)
        logs["val_accuracy"] = val_correct / max(val_count, 1.0)
        if verbose:
            shown = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
            print(f"Epoch {epoch + 1}/{epochs} - {shown}", flush=True)
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end()
