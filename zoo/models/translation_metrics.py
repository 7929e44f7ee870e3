"""Translation quality: corpus BLEU and chrF with sacrebleu.

Both score detokenized hypotheses against raw references, lowercased, and
accept several references per sentence (every Tatoeba target of a source).

Tatoeba gives one source sentence several translations, so there are two
protocols, and their figures differ (`protocol_scores` gives both):

* one reference ("one_ref"): every held-out (source, target) pair is a test
  sentence of its own, its one target the reference; a source with three
  translations counts three times, scored against each. This is how
  Tatoeba test sets (OPUS-MT's, for one) count.
* all references ("all_refs"): every distinct source is one test sentence,
  all its targets the references; a hypothesis matching any of them counts.
"""

import sacrebleu

def _reference_streams(hypotheses, references):
    """sacrebleu's layout: one stream per reference slot, None where a
    hypothesis has fewer references than the most any has."""
    hypotheses = list(hypotheses)
    references = [[r] if isinstance(r, str) else list(r) for r in references]
    if len(references) != len(hypotheses):
        raise ValueError(
            "Arguments `hypotheses` and `references` must have one entry per "
            f"sentence. Received: {len(hypotheses)} hypotheses, "
            f"{len(references)} references"
        )
    if any(not refs for refs in references):
        raise ValueError(
            "Argument `references` must hold at least one reference per "
            "sentence. Received an empty list of references"
        )
    slots = max((len(refs) for refs in references), default=1)
    streams = [
        [refs[j] if j < len(refs) else None for refs in references]
        for j in range(slots)
    ]
    return hypotheses, streams


def corpus_bleu(hypotheses, references):
    """Corpus BLEU (Papineni et al. 2002) with sacrebleu, lowercased.

    sacrebleu's defaults otherwise (13a tokenization, exponential
    smoothing), so scores compare with published sacrebleu numbers for
    lowercased output: signature `nrefs:N|case:lc|eff:no|tok:13a|smooth:exp`.

    Args:
        hypotheses: A list of detokenized translations.
        references: For each hypothesis, a reference string or a list of
            reference strings (e.g. every Tatoeba target of its source).

    Returns:
        BLEU in [0, 100] as a float.

    Example:

    >>> round(corpus_bleu(["¿dónde está el gato?"], [["¿Dónde está el gato?"]]))
    100
    """
    hypotheses, streams = _reference_streams(hypotheses, references)
    metric = sacrebleu.metrics.BLEU(lowercase=True)
    return float(metric.corpus_score(hypotheses, streams).score)


def corpus_chrf(hypotheses, references, word_order=0):
    """Corpus chrF (Popović 2015) with sacrebleu, lowercased.

    Args:
        hypotheses: A list of detokenized translations.
        references: For each hypothesis, a reference string or a list of
            them.
        word_order: 0 for chrF (default), 2 for chrF++.

    Returns:
        chrF in [0, 100] as a float.

    Example:

    >>> round(corpus_chrf(["it is here."], ["It is here."]))
    100
    """
    hypotheses, streams = _reference_streams(hypotheses, references)
    metric = sacrebleu.metrics.CHRF(word_order=word_order, lowercase=True)
    return float(metric.corpus_score(hypotheses, streams).score)


PROTOCOLS = ("one_ref", "all_refs")


def protocol_scores(hypotheses, references):
    """BLEU and chrF of one hypothesis per source under both protocols.

    Args:
        hypotheses: The translation of each distinct source.
        references: For each source, the list of its held-out targets
            (`zoo.data.translation.group_by_source`).

    Returns:
        `{"bleu_one_ref", "chrf_one_ref", "bleu_all_refs", "chrf_all_refs"}`.

    Example:

    >>> scores = protocol_scores(["i can see the cat."],
    ...                          [["I can see the cat.", "I see the cat."]])
    >>> round(scores["bleu_all_refs"]), round(scores["bleu_one_ref"]) < 100
    (100, True)
    """
    hypotheses, streams = _reference_streams(hypotheses, references)
    # one_ref: the hypothesis once per (source, reference) pair.
    pairs = [(hypothesis, reference) for hypothesis, slot in zip(
        hypotheses, zip(*streams)) for reference in slot if reference is not None]
    each, single = [h for h, _ in pairs], [r for _, r in pairs]
    return {
        "bleu_one_ref": corpus_bleu(each, single),
        "chrf_one_ref": corpus_chrf(each, single),
        "bleu_all_refs": corpus_bleu(hypotheses, references),
        "chrf_all_refs": corpus_chrf(hypotheses, references),
    }
