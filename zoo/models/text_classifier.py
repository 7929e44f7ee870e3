"""Text classifier: token ids -> embedding -> recurrent layers -> pooling -> classes.

The model works on token ids, so it runs on every Keras backend; turning
raw strings into ids is `text_classifier_preprocessor.py`'s job (TensorFlow
string ops), composed in front of it for training pipelines and export.

Pooling turns the recurrent outputs h_1..h_T into one vector:

* "attention" (default): additive attention over time (Bahdanau et al. 2015,
  as used for documents by Yang et al. 2016 and by Misra & Arora's sarcasm
  model): u_t = tanh(W h_t + b), α_t = softmax_t(v · u_t) over unmasked
  steps, pooled = Σ_t α_t h_t.
* "mean": the mean of h_t over unmasked steps.
* "last": the recurrent layer's final output (its state after the last
  unmasked step).

With `ensemble_size=K > 1` the model holds K such classifiers ("members",
each with its own embedding, recurrent layers, pooling and head) reading the
same token ids, and outputs the mean of their class probabilities
(`MemberAverage`): a deep ensemble (Lakshminarayanan et al. 2017), served
as one model. `python -m training.train` trains the members one after
another, each as its own run, and assembles them
(`TextClassifier.from_members`).
"""

import re

import keras
from keras import ops

from zoo.diagnostics.trace import trace_layer
from zoo.layers.catalog import CELLS, recurrent_layer
from zoo.layers.rnn import check_positive_int, check_rate

POOLING = ("attention", "mean", "last")
RECURRENT_NAME = re.compile(r"(member_\d+_)?(recurrent|bidirectional)_\d+$")


@keras.saving.register_keras_serializable(package="zoo")
class AttentionPooling(keras.layers.Layer):
    """Additive attention pooling over time, masked.

    Args:
        units: Width of the attention hidden layer (W, b, v).

    Call arguments:
        inputs: `(batch, time, features)`.
        mask: Optional boolean `(batch, time)`; masked steps get zero weight.

    Returns `(batch, features)`.
    """

    def __init__(self, units=64, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("units", units)
        self.units = units
        self.supports_masking = True

    def build(self, input_shape):
        features = input_shape[-1]
        self.kernel = self.add_weight(
            shape=(features, self.units), name="kernel", initializer="glorot_uniform"
        )
        self.bias = self.add_weight(shape=(self.units,), name="bias", initializer="zeros")
        self.score_vector = self.add_weight(
            shape=(self.units,), name="score_vector", initializer="glorot_uniform"
        )

    def call(self, inputs, mask=None):
        # u_t = tanh(W h_t + b)
        u = ops.tanh(ops.matmul(inputs, self.kernel) + self.bias)
        # e_t = v · u_t
        scores = ops.einsum("btu,u->bt", u, self.score_vector)
        if mask is not None:
            scores = ops.where(mask, scores, ops.full_like(scores, -1e9))
        # α_t = softmax_t(e_t)
        weights = ops.softmax(scores, axis=-1)
        # pooled = Σ_t α_t h_t
        return ops.einsum("bt,btf->bf", weights, inputs)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="zoo")
class MemberAverage(keras.layers.Layer):
    """The ensemble's prediction: the mean of its members' probabilities.

    p̄ = (1/K) Σ_k p_k. A deep ensemble (Lakshminarayanan et al. 2017)
    trains each member on its own loss, from its own initialisation and data
    order, and averages only at prediction time; that is what
    `python -m training.train` does for `ensemble_size > 1`. Fitting the
    averaged output directly instead lets the members co-adapt and lose the
    diversity that makes the average better than one member (Webb et al.
    2020; on the sarcasm data, 5 members fitted jointly scored no better than
    one model: docs/training.md).

    Call arguments:
        inputs: A list of K `(batch, classes)` probability tensors.

    Returns `(batch, classes)`.

    Example:

    >>> average = MemberAverage()
    >>> p = [np.array([[0.9, 0.1]]), np.array([[0.5, 0.5]])]
    >>> np.asarray(average(p)).round(2)
    array([[0.7, 0.3]], dtype=float32)
    """

    def call(self, inputs):
        # p̄ = (1/K) Σ_k p_k
        return ops.mean(ops.stack(inputs, axis=1), axis=1)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="zoo")
class TokenDropout(keras.layers.Layer):
    """Word dropout: replaces real tokens by [UNK] at random during training.

    Each non-padding token id becomes the out-of-vocabulary id with
    probability `rate` (the "word dropout" of Bowman et al. 2016), so the
    classifier cannot lean on any single word and learns what to do with
    words it has never seen. Padding (id 0) stays padding, so masks are
    unchanged. Inference passes ids through.

    Args:
        rate: Float in [0, 1), the probability of replacing a token.
        unknown_id: The out-of-vocabulary id (1 for `TextVectorization`).
        seed: Optional integer seed.

    Call arguments:
        inputs: Integer token ids `(batch, time)`.
        training: Whether to drop tokens.

    Example:

    >>> layer = TokenDropout(0.5, seed=0)
    >>> ids = np.array([[5, 7, 9, 0, 0]])
    >>> np.array_equal(layer(ids), ids)  # inference: unchanged
    True
    >>> dropped = np.asarray(layer(ids, training=True))
    >>> set(dropped[0, :3].tolist()) <= {1, 5, 7, 9}, dropped[0, 3:].tolist()
    (True, [0, 0])
    """

    def __init__(self, rate, unknown_id=1, seed=None, **kwargs):
        super().__init__(**kwargs)
        check_rate("rate", rate)
        self.rate = rate
        self.unknown_id = unknown_id
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        drop = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) < self.rate
        drop = ops.logical_and(drop, ops.not_equal(inputs, 0))
        return ops.where(drop, ops.full_like(inputs, self.unknown_id), inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "unknown_id": self.unknown_id,
            "seed": self.seed,
        }


@keras.saving.register_keras_serializable(package="zoo")
class TextClassifier(keras.Model):
    """Recurrent text classifier over token ids.

    Args:
        vocabulary_size: Number of token ids (0 is padding, masked).
        num_classes: Number of classes; the output is their probabilities.
        cell: A cell of `zoo.layers.catalog.CATALOG` ("lstm", "gru", "slstm", ...).
        cell_options: Family-specific arguments, e.g. `{"variant": "CIFG"}`
            for "lstm" or `{"block_size": 2}` for "original_lstm".
        units: Width of each recurrent layer (per direction).
        num_layers: Number of stacked recurrent layers.
        bidirectional: Whether each recurrent layer reads both ways.
        embedding_dim: Width of the token embedding.
        pooling: "attention", "mean" or "last".
        attention_units: Width of the attention pooling's hidden layer.
        dropout: Dropout on the embeddings and on the pooled vector.
        token_dropout: Probability of replacing each token by [UNK] during
            training (`TokenDropout`); 0 turns it off.
        recurrent_dropout: `dropout` and `recurrent_dropout` of the recurrent
            layers (one mask per sequence).
        ensemble_size: Number of members; above 1 the layers of member k
            are named `member_{k}_embedding`, ... and the output is their
            mean probability (`MemberAverage`).

    Example:

    >>> model = TextClassifier(vocabulary_size=100, num_classes=2, units=8,
    ...                        embedding_dim=8)
    >>> tuple(model(np.array([[5, 7, 9, 0, 0]])).shape)
    (1, 2)
    """

    def __init__(
        self,
        vocabulary_size,
        num_classes,
        cell="lstm",
        cell_options=None,
        units=64,
        num_layers=1,
        bidirectional=True,
        embedding_dim=128,
        pooling="attention",
        attention_units=64,
        dropout=0.2,
        recurrent_dropout=0.0,
        token_dropout=0.0,
        ensemble_size=1,
        **kwargs,
    ):
        for name, value in (
            ("vocabulary_size", vocabulary_size),
            ("num_classes", num_classes),
            ("units", units),
            ("num_layers", num_layers),
            ("embedding_dim", embedding_dim),
            ("ensemble_size", ensemble_size),
        ):
            check_positive_int(name, value)
        if num_classes < 2:
            raise ValueError(
                f"Argument `num_classes` must be at least 2. Received: num_classes={num_classes}"
            )
        if cell not in CELLS:
            raise ValueError(f"Argument `cell` must be one of {CELLS}. Received: cell={cell!r}")
        if pooling not in POOLING:
            raise ValueError(
                f"Argument `pooling` must be one of {POOLING}. Received: pooling={pooling!r}"
            )

        # === Layers ===
        token_ids = keras.Input((None,), dtype="int32", name="token_ids")

        def member(prefix):
            x = token_ids
            if token_dropout:
                x = TokenDropout(token_dropout, name=f"{prefix}token_dropout")(x)
            x = keras.layers.Embedding(
                vocabulary_size, embedding_dim, mask_zero=True, name=f"{prefix}embedding"
            )(x)
            x = keras.layers.Dropout(dropout, name=f"{prefix}embedding_dropout")(x)
            for index in range(num_layers):
                sequences = index < num_layers - 1 or pooling != "last"
                layer = recurrent_layer(
                    cell,
                    units,
                    cell_options,
                    return_sequences=sequences,
                    dropout=recurrent_dropout,
                    recurrent_dropout=recurrent_dropout,
                    name=f"{prefix}recurrent_{index}",
                )
                if bidirectional:
                    layer = keras.layers.Bidirectional(layer, name=f"{prefix}bidirectional_{index}")
                x = layer(x)
            if pooling == "attention":
                x = AttentionPooling(attention_units, name=f"{prefix}attention_pooling")(x)
            elif pooling == "mean":
                x = keras.layers.GlobalAveragePooling1D(name=f"{prefix}mean_pooling")(x)
            x = keras.layers.Dropout(dropout, name=f"{prefix}pooled_dropout")(x)
            return keras.layers.Dense(
                num_classes, activation="softmax", dtype="float32", name=f"{prefix}scores"
            )(x)

        if ensemble_size == 1:
            scores = member("")
        else:
            members = [member(f"member_{k}_") for k in range(ensemble_size)]
            scores = MemberAverage(dtype="float32", name="scores")(members)

        # === Functional Model ===
        super().__init__(token_ids, scores, **kwargs)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_classes = num_classes
        self.cell = cell
        self.cell_options = dict(cell_options or {})
        self.units = units
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.embedding_dim = embedding_dim
        self.pooling = pooling
        self.attention_units = attention_units
        self.dropout = dropout
        self.recurrent_dropout = recurrent_dropout
        self.token_dropout = token_dropout
        self.ensemble_size = ensemble_size

    @classmethod
    def from_members(cls, members, name=None):
        """An ensemble of trained single classifiers, their weights copied.

        Args:
            members: Two or more `TextClassifier`s with `ensemble_size=1`
                and the same configuration (vocabulary size, classes, cell,
                widths...), trained separately.
            name: The ensemble's name (default: the first member's).

        Returns:
            A `TextClassifier` with `ensemble_size=len(members)` whose member
            k computes exactly what `members[k]` computes.
        """
        if len(members) < 2:
            raise ValueError(
                f"An ensemble needs at least 2 members. Received: {len(members)} member(s)"
            )
        configs = [member.get_config() for member in members]
        for index, config in enumerate(configs):
            if config.get("ensemble_size", 1) != 1:
                raise ValueError(
                    f"Member {index} is itself an ensemble. Received: "
                    f"ensemble_size={config['ensemble_size']}"
                )
            for key, value in config.items():
                if key not in ("name", "trainable") and value != configs[0][key]:
                    raise ValueError(
                        f"Every member must have member 0's configuration; member "
                        f"{index} has {key}={value!r}, member 0 {key}={configs[0][key]!r}"
                    )
        config = {**configs[0], "ensemble_size": len(members), "name": name or configs[0]["name"]}
        ensemble = cls.from_config(config)
        for index, member in enumerate(members):
            for layer in member.layers:
                if layer.weights:
                    ensemble.get_layer(f"member_{index}_{layer.name}").set_weights(
                        layer.get_weights()
                    )
        return ensemble

    def trace(self, token_ids):
        """What every recurrent layer did at every token (inference).

        Runs the classifier again with each recurrent layer traced
        (`zoo.diagnostics.trace.trace_layer`): the same weights and the same
        prediction, with the gates and states kept.

        Args:
            token_ids: `(batch, time)` ids, right-padded with 0.

        Returns:
            `(activations, outputs, score)`: `{layer name: {direction: {name:
            (batch, time, width)}}}`, each traced layer's output sequence
            `{layer name: (batch, time, units)}` (the tensors to take a
            gradient with respect to), and `(batch,)` the log-probability of
            the predicted class, the score whose gradient ranks the units.
        """
        token_ids = ops.cast(token_ids, "int32")
        mask = ops.not_equal(token_ids, 0)
        prefixes = [""] if self.ensemble_size == 1 else [
            f"member_{k}_" for k in range(self.ensemble_size)]
        activations, outputs, probabilities = {}, {}, []
        for prefix in prefixes:
            x = self.get_layer(f"{prefix}embedding")(token_ids)
            for index in range(self.num_layers):
                kind = "bidirectional" if self.bidirectional else "recurrent"
                name = f"{prefix}{kind}_{index}"
                x, _, _, activations[name] = trace_layer(self.get_layer(name), x, mask)
                outputs[name] = x
            if self.pooling == "attention":
                x = self.get_layer(f"{prefix}attention_pooling")(x, mask=mask)
            elif self.pooling == "mean":
                x = self.get_layer(f"{prefix}mean_pooling")(x, mask=mask)
            else:
                # The last output, read off the sequence (whose masked steps
                # repeat it) so that the gradient reaches the sequence: the
                # forward direction's at the end, the backward one's at token 0.
                width = self.units
                x = x[:, -1] if not self.bidirectional else ops.concatenate(
                    [x[:, -1, :width], x[:, 0, width:]], axis=-1)
            probabilities.append(self.get_layer(f"{prefix}scores")(x))
        # p̄ = (1/K) Σ_k p_k, as MemberAverage; the score is log max_c p̄_c.
        mean = ops.mean(ops.stack(probabilities), axis=0)
        return activations, outputs, ops.log(ops.max(mean, axis=-1))

    def recurrent_layers(self):
        """The recurrent layers (inside Bidirectional if so), bottom first,
        member by member."""
        return [layer for layer in self.layers if RECURRENT_NAME.match(layer.name)]

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "vocabulary_size": self.vocabulary_size,
            "num_classes": self.num_classes,
            "cell": self.cell,
            "cell_options": self.cell_options,
            "units": self.units,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "embedding_dim": self.embedding_dim,
            "pooling": self.pooling,
            "attention_units": self.attention_units,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "token_dropout": self.token_dropout,
            "ensemble_size": self.ensemble_size,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
