"""NeuralForecast's AutoLSTM on one series: the peer side of ``bench/peer.py`` (runs in the peer venv).

    bench/.peer-venv/bin/python bench/peer_nf.py --data series.csv --job job.json --out DIR

Never imported by seqnas: ``bench/peer.py`` starts it as a subprocess and they exchange files only.
``series.csv`` has the columns ``unique_id, ds, y`` (``ds`` the integer row index of the series, freq 1)
and the historic exogenous columns the job names. ``job.json``::

    {"h": 6, "val_size": 81, "test_size": 86, "seed": 0, "num_samples": 4, "max_steps": null,
     "hist_exog": [], "check_origins": 3}

AutoLSTM keeps its default config (``AutoLSTM.get_default_config(h, backend="ray")`` turned into the
Optuna config function by ``AutoLSTM._ray_config_to_optuna``, which is what ``backend="optuna"`` does)
except: ``hist_exog_list`` (when the job names features), ``max_steps`` (a value, or a list: a choice,
when the job gives one; else the default choice of 500 or 1000), Lightning's progress bar, model
summary and logger off (display only), the Optuna sampler ``TPESampler(seed=seed)`` (AutoLSTM's
default ``search_alg`` is a Ray generator, which the Optuna backend ignores: an unseeded TPE) and
Optuna's ``catch=(Exception,)`` (a config that cannot train, e.g. an input longer than the training
rows, fails its trial, not the run). ``num_samples`` is the job's. The search trains on the rows before the last ``val_size + test_size``,
validates on the next ``val_size`` (AutoLSTM's default MAE loss), refits the best config on every row
before the test part, then forecasts every origin in the test part without refitting
(``NeuralForecast.cross_validation(refit=False, step_size=1, test_size=...)``).

Written to DIR: ``forecasts.csv`` (``cutoff, ds, y, AutoLSTM``: the forecast of row ``ds`` made at origin
``cutoff``), ``nf.json`` (CPU-seconds per phase and per trial, the trials' configs and validation losses,
the best config, versions) and, with ``check_origins`` > 0, the forecasts of that many test origins made
again by ``predict`` on the series cut right after the origin, to show no later row reaches a forecast.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def cpu_now() -> float:
    """User + system CPU-seconds of this process and its reaped children so far."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--job", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    job = json.loads(open(a.job).read())
    os.makedirs(a.out, exist_ok=True)
    t0 = time.monotonic()
    cpu: dict[str, float] = {"start": cpu_now()}

    import logging
    import warnings

    import neuralforecast
    import numpy as np
    import optuna
    import pandas as pd
    import torch
    from neuralforecast import NeuralForecast
    from neuralforecast.auto import AutoLSTM, OptunaOptions
    from ray import tune

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric", "neuralforecast"):
        logging.getLogger(name).setLevel(logging.ERROR)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    cpu["imported"] = cpu_now()

    h, seed = int(job["h"]), int(job["seed"])
    hist_exog = list(job.get("hist_exog") or [])
    df = pd.read_csv(a.data)
    # AutoLSTM's default search space as Ray Tune objects, changed only where the job says, then turned into
    # the Optuna config function exactly as ``AutoLSTM.get_default_config(h, backend="optuna")`` does.
    space = AutoLSTM.get_default_config(h=h, backend="ray")
    if hist_exog:
        space["hist_exog_list"] = hist_exog
    steps = job.get("max_steps")
    if steps is not None:
        space["max_steps"] = tune.choice([int(s) for s in steps]) if isinstance(steps, list) else int(steps)
    # Display only: Lightning's progress bar and model summary write megabytes of log per run.
    space["enable_progress_bar"] = False
    space["enable_model_summary"] = False
    space["logger"] = False
    space.update(job.get("override") or {})  # for measuring the cost of one config only; peer.py never sets it
    config = AutoLSTM._ray_config_to_optuna(space)

    trials: list[dict] = []
    last = [cpu_now()]

    def on_trial(study, trial) -> None:
        now = cpu_now()
        trials.append({"number": trial.number, "state": trial.state.name, "value": trial.value,
                       "params": trial.params, "cpu_seconds": now - last[0]})
        last[0] = now
        print(f"  trial {trial.number}: val loss {trial.value} cpu {now - cpu['imported']:.1f}s {trial.params}", flush=True)

    # catch: a config that cannot train (an input_size longer than the training part, as 64 * h is on co2)
    # fails that trial instead of the whole search (Optuna's default re-raises it).
    model = AutoLSTM(h=h, config=config, search_alg=optuna.samplers.TPESampler(seed=seed),
                     num_samples=int(job["num_samples"]), backend="optuna", callbacks=[on_trial],
                     optuna_options=OptunaOptions(study_kwargs={"catch": (Exception,)}))
    nf = NeuralForecast(models=[model], freq=1)
    cpu["fit_start"] = last[0] = cpu_now()
    cv = nf.cross_validation(df=df, n_windows=None, test_size=int(job["test_size"]), val_size=int(job["val_size"]),
                             step_size=1, refit=False)
    cpu["cv_done"] = cpu_now()
    cv = cv[["cutoff", "ds", "y", "AutoLSTM"]].sort_values(["cutoff", "ds"])
    cv.to_csv(os.path.join(a.out, "forecasts.csv"), index=False)

    # The refit (the best config trained on every row before the test part) is the CPU after the last trial
    # up to the forecasts; the forecasts themselves are cheap, so it is reported as one figure.
    check = []
    n_check = int(job.get("check_origins") or 0)
    if n_check:
        cutoffs = np.unique(cv["cutoff"].to_numpy())
        pick = np.unique(np.linspace(0, len(cutoffs) - 1, n_check).round().astype(int))
        for c in cutoffs[pick]:
            past = df[df["ds"] <= c]
            p = nf.predict(df=past).sort_values("ds")
            ref = cv[cv["cutoff"] == c].sort_values("ds")
            check.append({"cutoff": int(c), "ds": p["ds"].astype(int).tolist(), "predict": p["AutoLSTM"].tolist(),
                          "cv_ds": ref["ds"].astype(int).tolist(), "cv": ref["AutoLSTM"].tolist()})
    cpu["end"] = cpu_now()

    best = nf.models[0].results.best_trial
    out = {
        "versions": {"neuralforecast": neuralforecast.__version__, "torch": torch.__version__, "optuna": optuna.__version__},
        "job": job,
        "cpu": cpu,
        "cpu_import": cpu["imported"] - cpu["start"],
        "cpu_search": sum(t["cpu_seconds"] for t in trials),
        "cpu_refit_and_forecast": cpu["cv_done"] - last[0],
        "cpu_check": cpu["end"] - cpu["cv_done"],
        "wall_seconds": time.monotonic() - t0,
        "trials": trials,
        "best": {"number": best.number, "value": best.value,
                 "config": {k: v for k, v in best.user_attrs.get("ALL_PARAMS", {}).items() if _jsonable(v)}},
        "torch_threads": torch.get_num_threads(),
        "check": check,
        "n_forecasts": len(cv),
    }
    with open(os.path.join(a.out, "nf.json"), "w") as f:
        json.dump(out, f, indent=1, default=str)
    print(f"done: {len(trials)} trials, search cpu {out['cpu_search']:.1f}s, refit+forecast {out['cpu_refit_and_forecast']:.1f}s,"
          f" total {cpu_now():.1f}s", flush=True)


def _jsonable(v) -> bool:
    try:
        json.dumps(v)
        return True
    except TypeError:
        return False


if __name__ == "__main__":
    main()
