"""What a sweep leaves in its folder: trials.csv, optimization_results.yaml, plots, TensorBoard HParams.

Rewritten after every batch of trials, each file atomically, so an interrupted sweep's folder is
always readable and up to date.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from pathlib import Path
from typing import Any

import optuna
from omegaconf import OmegaConf
from optuna.trial import TrialState

from conf.errors import first_line
from runs.atomic_files import replace_atomically, write_text_atomically

log = logging.getLogger("hpsearch")


def trial_folder(trial: optuna.trial.FrozenTrial) -> str:
    return trial.user_attrs.get("folder", "")


def trials_csv(study: optuna.Study, params: dict[str, Any]) -> str:
    """One row per trial: number, state, values, parameters, duration, folder, error."""
    objectives = ["value"] if len(study.directions) == 1 else [f"value_{i}" for i in range(len(study.directions))]
    header = ["number", "state", *objectives, *params, "duration_s", "folder", "error"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for trial in study.trials:
        values = trial.values or [None] * len(objectives)
        duration = trial.duration.total_seconds() if trial.duration else None
        writer.writerow([trial.number, trial.state.name, *values,
                         *(params[key].value(trial.params[key]) if key in trial.params else "" for key in params),
                         duration, trial_folder(trial), trial.user_attrs.get("error", "")])
    return out.getvalue()


def optimization_results(study: optuna.Study, params: dict[str, Any]) -> dict[str, Any]:
    """The published plugin's keys (`name: optuna`; `best_params` and `best_value` for one objective, or the
    Pareto front as `solutions`, each `{params, values}`, for several), and this project's beside them: the study,
    its directions and where they came from, counts by state, the searched keys, the best trial and folders."""
    def config_params(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
        return {key: params[key].value(value) if key in params else value for key, value in trial.params.items()}

    counts = {state.name: sum(t.state == state for t in study.trials) for state in TrialState}
    results: dict[str, Any] = {"name": "optuna", "study_name": study.study_name,
                               "directions": [d.name.lower() for d in study.directions],
                               "direction_source": study.user_attrs.get("direction_source", "hydra.sweeper.direction"),
                               "trials": {k: v for k, v in counts.items() if v},
                               "searched_keys": sorted({*params, *(key for t in study.trials for key in t.params)})}
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    if not complete:
        return results
    if len(study.directions) == 1:
        best = study.best_trial
        results.update(best_trial=best.number, best_value=best.value, best_params=config_params(best),
                       best_folder=trial_folder(best))
    else:
        results["solutions"] = [{"params": config_params(t), "values": t.values, "trial": t.number,
                                 "folder": trial_folder(t)} for t in study.best_trials]
    return results


def write_report(study: optuna.Study, sweep_dir: Path, params: dict[str, Any]) -> None:
    write_text_atomically(sweep_dir / "trials.csv", trials_csv(study, params))
    write_text_atomically(sweep_dir / "optimization_results.yaml",
                          OmegaConf.to_yaml(OmegaConf.create(optimization_results(study, params))))


def write_plots(study: optuna.Study, sweep_dir: Path) -> None:
    """Optimisation history and parameter importances, as HTML (plotly, interactive) and PNG
    (matplotlib, for a report or a terminal without a browser); skipped (with a log line) when the
    study has too few complete trials for them."""
    import warnings

    import matplotlib
    import optuna.visualization as plots

    matplotlib.use("Agg")  # off-screen: a sweep may run where there is no display
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as pictures

    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    figures = {"optimization_history": (plots.plot_optimization_history, pictures.plot_optimization_history),
               "param_importances": (plots.plot_param_importances, pictures.plot_param_importances)}
    for name, (html_plot, png_plot) in figures.items():
        if len(complete) < 2:
            log.info("no %s plot: fewer than two complete trials", name)
            continue
        target = {} if len(study.directions) == 1 else {"target": lambda trial: trial.values[0],
                                                           "target_name": "objective 0"}
        try:
            # what Optuna warns while it draws (matplotlib plots are experimental, ...) is logged, not raised: an
            # app run with `python -W error`, as the published plugin's tests run theirs, must not fail here
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                html = html_plot(study, **target).to_html(include_plotlyjs="cdn")
                axes = png_plot(study, **target)
        except Exception as error:  # e.g. no parameter varied across trials: the sweep's results stand without it
            log.info("no %s plot: %s", name, first_line(str(error)))
            continue
        for message in dict.fromkeys((str(w.message).splitlines() or [""])[0] for w in caught
                                     if not issubclass(w.category, optuna.exceptions.ExperimentalWarning)):
            log.info("%s plot: %s", name, message)
        write_text_atomically(sweep_dir / f"{name}.html", html)
        figure = axes.figure
        replace_atomically(sweep_dir / f"{name}.png", lambda temporary: figure.savefig(
            temporary, format="png", dpi=110, bbox_inches="tight"), suffix=".png")
        plt.close(figure)


def write_hparams(trial: optuna.trial.FrozenTrial, params: dict[str, Any], folder: Path, study_name: str,
                  metric_names: list[str]) -> None:
    """A TensorBoard HParams record of one finished trial in `<folder>/hparams/`, so that
    `tensorboard --logdir <sweep folder>` (or `--logdir results/`) compares the trials side by side.

    The session is named `<study>/<trial number>`, so trials of different sweeps never merge into one
    group; its status is the trial's (COMPLETE and PRUNED end as success, FAIL as failure, and the
    `state` column tells them apart); the metrics carry `optimized_metric`'s names. Written as
    TensorBoard's protocol buffers in a record file: TensorBoard's own writers load TensorFlow when
    it is installed, which would cost the sweep process seconds.
    """
    from tensorboard.compat.proto.event_pb2 import Event
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2
    from tensorboard.summary.writer.record_writer import RecordWriter

    info = plugin_data_pb2.SessionStartInfo(group_name=f"{study_name}/{trial.number}",
                                            start_time_secs=trial.datetime_start.timestamp())
    info.hparams["state"].string_value = trial.state.name
    for key, value in trial.params.items():
        value = _scalar(params[key].value(value) if key in params else value)
        if isinstance(value, bool):
            info.hparams[key].bool_value = value
        elif isinstance(value, (int, float)):
            info.hparams[key].number_value = value
        else:
            info.hparams[key].string_value = value
    start = Summary(value=[Summary.Value(
        tag=metadata.SESSION_START_INFO_TAG,
        metadata=metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(session_start_info=info)))])
    values = list(trial.values or [])
    names = metric_names if len(metric_names) == len(values) else \
        ["objective"] if len(values) == 1 else [f"objective_{i}" for i in range(len(values))]
    objectives = Summary(value=[Summary.Value(tag=name, simple_value=value)
                                for name, value in zip(names, values, strict=True)])
    status = api_pb2.STATUS_FAILURE if trial.state == TrialState.FAIL else api_pb2.STATUS_SUCCESS
    end = Summary(value=[Summary.Value(
        tag=metadata.SESSION_END_INFO_TAG,
        metadata=metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(
            session_end_info=plugin_data_pb2.SessionEndInfo(
                status=status, end_time_secs=(trial.datetime_complete or trial.datetime_start).timestamp()))))])
    events = [Event(wall_time=time.time(), file_version="brain.Event:2"),
              *(Event(wall_time=time.time(), step=0, summary=summary) for summary in (start, objectives, end))]
    path = folder / "hparams" / f"events.out.tfevents.{int(time.time())}.hpsearch"

    def write(temporary: Path) -> None:
        with open(temporary, "wb") as handle:
            writer = RecordWriter(handle)
            for event in events:
                writer.write(event.SerializeToString())

    replace_atomically(path, write)


def _scalar(value: Any) -> Any:
    return value if isinstance(value, (bool, int, float, str)) else str(value)
