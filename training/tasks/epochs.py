"""The training data of a run as epochs, each shuffled by its own seed."""

import tensorflow as tf


def shuffled_epochs(size, seed, start_epoch, epochs, batches):
    """Epochs `start_epoch..epochs-1` of `batches(order)`, as one dataset.

    Each epoch's `order` is a permutation of `range(size)` drawn from
    `(seed, epoch)` alone, so a run resumed at any epoch sees exactly the
    batches an unbroken run would have.

    Args:
        size: Examples in the training set.
        seed: The run's `training.seed`.
        start_epoch, epochs: The epochs to produce.
        batches: `order -> tf.data.Dataset` of that epoch's batches.
    """

    def epoch(index):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(size), seed=tf.stack([tf.cast(seed, tf.int64), index]))
        return batches(order)

    return tf.data.Dataset.range(start_epoch, epochs).flat_map(epoch).prefetch(tf.data.AUTOTUNE)
