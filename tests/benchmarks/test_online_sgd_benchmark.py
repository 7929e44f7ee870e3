"""benchmarks.online_sgd measures what it says (never asserts a speed)."""

from benchmarks import online_sgd


def test_counts_sequences_with_and_without_xla():
    for jit_compile in (True, False):
        rate = online_sgd.sequences_per_second("4", {"T": 10}, jit_compile, chunks=1, chunk=10)
        assert rate > 0


def test_quick_run_prints_a_row_per_experiment(capsys, monkeypatch):
    monkeypatch.setattr(online_sgd, "EXPERIMENTS", {"4": {"T": 10}, "6a": {}})
    monkeypatch.setattr(online_sgd, "sequences_per_second", lambda *a, **k: 100.0)
    assert online_sgd.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "| 4 (T = 10) | 100 | 100 | 1x |" in out and "| 6a | 100 | 100 | 1x |" in out
