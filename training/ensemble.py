"""Deep ensembles (`--set model.ensemble_size=K`, classification): K
members trained one after another, each an ordinary run of its own in
`members/K/` with seed + K (its own initialisation and data order;
Lakshminarayanan et al. 2017), then averaged into one model whose
probabilities are the members' mean. `--resume` skips finished members.
"""

import keras
import numpy as np

from training import callbacks as run_callbacks
from training.fitting import build_model, evaluate_best, fit_run, report
from training.train import TIME_LIMIT_KEY


def train_ensemble(strategy, run, run_dir, chief, entry):
    """Trains `run`'s members in `run_dir/members/K/`, then writes the
    ensemble's outputs in `run_dir` (on the chief)."""
    ensemble_size = run.config["model"]["ensemble_size"]
    member_dirs = [run_dir / "members" / str(index) for index in range(ensemble_size)]
    for index, member_dir in enumerate(member_dirs):
        if (member_dir / "metrics.json").exists():  # written last by evaluate_best
            print(f"Member {index + 1} of {ensemble_size} had already finished ({member_dir}).")
            continue
        member = run.member(index)
        seed = member.config["training"]["seed"]
        print(f"Member {index + 1} of {ensemble_size} (seed {seed})", flush=True)
        keras.utils.set_random_seed(seed)
        model = build_model(strategy, member, entry)
        if chief:
            member_dir.mkdir(parents=True, exist_ok=True)
            run_callbacks.write_json_atomically(member_dir / "config.json", member.config)
        state = fit_run(strategy, member, model, member_dir, chief)
        if chief:
            evaluate_best(member, state, member_dir, f"{entry} member {index}")
    if chief:
        finish_ensemble(run, member_dirs, run_dir)


def finish_ensemble(run, member_dirs, run_dir):
    """Averages the members' best models into one and writes the outputs."""
    members = [
        keras.saving.load_model(d / "checkpoints" / "best.keras", compile=False)
        for d in member_dirs
    ]
    ensemble = run.ensemble(members)
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    ensemble.save(run_dir / "checkpoints" / "best.keras")
    metrics = run.evaluate(ensemble)
    member_metrics = [run_callbacks.read_json(d / "metrics.json") for d in member_dirs]
    metrics["members"] = [
        {
            **{k: m[k] for k in ("accuracy", "macro_f1", "best_epoch", "epochs_run")},
            # .get: members finished before these were recorded lack them.
            "training_seconds": m.get("training_seconds"),
            "stopped_by_time_limit": m.get("stopped_by_time_limit", False),
        }
        for m in member_metrics
    ]
    metrics["best_epoch"] = [m["best_epoch"] for m in member_metrics]
    metrics["epochs_run"] = [m["epochs_run"] for m in member_metrics]
    metrics["seconds_per_epoch"] = float(np.mean([m["seconds_per_epoch"] for m in member_metrics]))
    # The time limit is each member's; the ensemble trained for their sum.
    seconds = [m["training_seconds"] for m in metrics["members"]]
    metrics["training_seconds"] = None if None in seconds else float(sum(seconds))
    metrics["max_seconds"] = run.config.get(TIME_LIMIT_KEY)
    metrics["stopped_by_time_limit"] = any(m["stopped_by_time_limit"] for m in metrics["members"])
    run_callbacks.write_json_atomically(run_dir / "metrics.json", metrics)
    run.inference_model(ensemble).save(run_dir / "model.keras")
    shown = ", ".join(f"{m['accuracy']:.4f}" for m in member_metrics)
    print(f"Members' accuracy: {shown}")
    report(metrics, run_dir)
