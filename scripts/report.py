#!/usr/bin/env python
"""Aggregate result files into docs/RESULTS.md and plots, and copy the headline table into README.md.

    autodrive report [--results docs/results] [--out docs/RESULTS.md]
    autodrive report --compare best=runs/ppo-best recipe=runs/ppo-recipe --compare-name highway-fast-ppo

``--compare`` first aggregates sets of runs over training seeds (each a directory of
``autodrive train --seeds``, or any directory of run directories) into
``docs/results/seeds/<name>.json``: rliable's IQM and stratified-bootstrap intervals, the probability of
improvement, and the learning curves.

Inputs are only the JSON files under ``--results`` (scenario results written by ``pytest -m scenario``
with ``AUTODRIVE_RESULTS=docs/results/scenarios``, benchmark results written by
``scripts/benchmark.py``), so the report can be regenerated anywhere from them alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.common.io import atomic_write_bytes, atomic_write_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def fmt(value, spec: str = ",.0f") -> str:
    if value is None:
        return "–"
    return format(value, spec)


def mean_std(values: list[float]) -> str:
    import numpy as np

    if not values:
        return "–"
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


# ----------------------------------------------------------------------------- sections


def scenario_table(results: list[dict]) -> list[str]:
    lines = [
        "| scenario | algo | env | steps | seeds | mean return (± std over seeds) | crash rate | criteria (measured) | wall-clock / seed | passed |",
        "|---|---|---|---:|---:|---:|---:|---|---:|:---:|",
    ]
    for r in sorted(results, key=lambda r: r["scenario"]):
        crash = mean_std(r["crash_rates"]) if r.get("crash_rates") else "–"
        returns = mean_std(r["returns"]) if r.get("returns") else "–"
        steps = f"{r['steps']:,}" if r.get("steps") else "–"
        criteria = "; ".join(
            f"{m} {c['op']} {c['threshold']:g} ({c['value']:.3f})" for m, c in r["criteria"].items()
        )
        wall = sum(r["wall_clock_s"]) / len(r["wall_clock_s"])
        lines.append(
            f"| {r['scenario']} | {r['algo']} | `{r['env_id']}` | {steps} | {len(r['seeds'])} | "
            f"{returns} | {crash} | {criteria} | {wall:.1f} s | {'✅' if r['passed'] else '❌'} |"
        )
    total = sum(sum(r["wall_clock_s"]) for r in results) / 60
    passed = sum(bool(r["passed"]) for r in results)
    lines += [
        "",
        f"{passed} of {len(results)} scenarios pass; their recorded wall-clocks add up to {total:.1f} min.",
    ]
    return lines


def peer_table(results: list[dict]) -> list[str]:
    """Scenario pairs (``peer_of``): a recipe on our env beside the peer's run on its own env, each with
    its agent, budget, mean return, crash rate and wall-clock."""
    by_name = {r["scenario"]: r for r in results}
    pairs = [(by_name[r["peer_of"]], r) for r in results if r.get("peer_of") in by_name]
    if not pairs:
        return []
    lines = [
        "| ours: agent, steps, env | mean return, crash rate, wall-clock | peer: agent, steps, env "
        "| mean return, crash rate, wall-clock | wall-clock ratio (peer / ours) |",
        "|---|---|---|---|---:|",
    ]

    def side(r: dict) -> tuple[str, str, float]:
        wall = sum(r["wall_clock_s"]) / len(r["wall_clock_s"])
        crash = fmt(sum(r["crash_rates"]) / len(r["crash_rates"]), ".1%") if r.get("crash_rates") else "–"
        return (
            f"{r['algo']}, {r['steps']:,}, `{r['env_id']}`",
            f"{mean_std(r['returns'])}, {crash}, {wall:.0f} s",
            wall,
        )

    for ours, peer in sorted(pairs, key=lambda p: p[0]["scenario"]):
        (oa, ob, wo), (pa, pb, wp) = side(ours), side(peer)
        lines.append(f"| {oa} | {ob} | {pa} | {pb} | {wp / wo:.1f}× |")
    return lines


def same_env_table(results: list[dict]) -> list[str]:
    """Peer pairs whose first agent was also evaluated in the peer's env: both agents in that one env,
    by mean return and (where the env reports them) crash, off-road and success rates."""
    by_name = {r["scenario"]: r for r in results}
    pairs = [
        (by_name[r["peer_of"]], r)
        for r in results
        if r.get("peer_of") in by_name
        and (by_name[r["peer_of"]].get("runs") or [{}])[0].get("peer_env_id") == r["env_id"]
    ]
    if not pairs:
        return []
    lines = [
        "| evaluated in | agent (trained on, steps, wall-clock) | mean return | crash rate | off-road rate "
        "| success rate | episodes |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]

    def mean(runs: list[dict], key: str) -> str:
        values = [r[key] for r in runs if r.get(key) is not None]
        return mean_std(values) if values else "–"

    for ours, peer in sorted(pairs, key=lambda p: p[0]["scenario"]):
        env = f"`{peer['env_id']}`"
        for r, prefix in ((ours, "peer_"), (peer, "")):
            wall = sum(r["wall_clock_s"]) / len(r["wall_clock_s"])
            agent = f"{r['algo']} (`{r['env_id']}`, {r['steps']:,}, {wall:.0f} s)"
            cells = [
                mean(r.get("runs", []), prefix + k)
                for k in ("mean_return", "crash_rate", "off_road_rate", "success_rate")
            ]
            episodes = (r.get("runs") or [{}])[0].get(prefix + "episodes")
            lines.append(f"| {env} | {agent} | {' | '.join(cells)} | {fmt(episodes)} |")
    return lines


def gridworld_table(b: dict) -> list[str]:
    ours, peer = b["ours"], b.get("peer") or {}
    p = peer.get("steps_per_s")
    rows = [
        ("minigrid `MiniGrid-Empty-8x8-v0`, single env (gym.make)", p, p),
        ("GridWorld `empty`, single env (gym.make)", ours["single_env_steps_per_s"], p),
        (f"GridWorld `empty`, batched ({b['num_envs']} envs, index obs)", ours["batched_env_steps_per_s"], p),
        (
            f"GridWorld `empty`, batched ({b['num_envs']} envs, grid obs)",
            ours["batched_env_grid_obs_steps_per_s"],
            p,
        ),
        (f"Q-learning transitions/s ({b['num_envs']} envs)", ours["qlearning_transitions_per_s"], None),
    ]
    lines = ["| case | steps/s | × minigrid |", "|---|---:|---:|"]
    for label, value, ref in rows:
        if value is None:
            continue
        lines.append(f"| {label} | {fmt(value)} | {fmt(value / ref, ',.1f') + '×' if ref else '–'} |")
    return lines


def highway_table(b: dict) -> list[str]:
    """``scripts/bench/highway.py`` cases: env-steps/s and the ratio to highway-env in the same run."""
    lines = ["| case | env-steps/s | × highway-env (same run) |", "|---|---:|---:|"]
    for name, value in (b.get("peer") or {}).items():
        lines.append(f"| highway-env `{name}-v0`, single env (gym.make) | {fmt(value, ',.1f')} | 1.0× |")
    for c in b.get("cases", []):
        if c["case"].startswith("highway-env"):
            continue
        ratio = c.get("vs_highway_env")
        lines.append(
            f"| {c['case']} | {fmt(c['env_steps_per_s'])} | {fmt(ratio, ',.1f')}{'×' if ratio else ''} |"
        )
    if b.get("fresh_process_start_s") is not None:
        lines += [
            "",
            f"A fresh Python process imports, makes, resets and steps `autodrive/HighwayFast-v0` in "
            f"{b['fresh_process_start_s']:.2f} s (the kernels load from Warp's cache).",
        ]
    return lines


def worlds_table(b: dict) -> list[str]:
    """``scripts/bench/worlds.py`` cases: each world against highway-env's env of it, in the same run."""
    lines = ["| world | case | env-steps/s | × highway-env (same run) |", "|---|---|---:|---:|"]
    for c in b.get("cases", []):
        lines.append(
            f"| {c['world']} | {c['case']} | {fmt(c['env_steps_per_s'], ',.1f' if c['env_steps_per_s'] < 100 else ',.0f')} "
            f"| {fmt(c['vs_highway_env'], ',.1f')}× |"
        )
    return lines


def sb3_table(b: dict) -> list[str]:
    """``scripts/bench/sb3.py``: SB3 through our batched envs (SB3VecEnv) vs SB3's DummyVecEnv."""
    lines = [
        "| env | VecEnv (envs) | env steps/s (random actions) | SB3 PPO steps/s |",
        "|---|---|---:|---:|",
    ]
    for c in b.get("cases", []):
        ratio = c["vec_env"].startswith("ratio")
        spec = "{:,.1f}×" if ratio else "{:,.0f}"
        lines.append(
            f"| `{c['env_id']}` | {c['vec_env']} ({c['num_envs']}) | {spec.format(c['env_steps_per_s'])} | "
            f"{spec.format(c['ppo_steps_per_s'])} |"
        )
    return lines


def fidelity_table(b: dict) -> list[str]:
    """``scripts/fidelity.py``: step-by-step differences and statistics against highway-env."""
    lines = [
        "| preset | observation | config | precision | policy | scenes | max obs diff | max reward diff | flag mismatches |",
        "|---|---|---|---|---|---:|---:|---:|---:|",
    ]
    for r in b.get("step", []):
        lines.append(
            f"| {r['preset']} | {r['observation']} | {r.get('config', 'default')} | {r['precision']} | "
            f"{r['policy']} | {r['scenes']} | "
            f"{r['max_obs_diff']:.1e} | {r['max_reward_diff']:.1e} | {r['flag_mismatches']} |"
        )
    lines += [
        "",
        "| preset | policy | metric | ours (± se) | highway-env (± se, episodes) | z |",
        "|---|---|---|---:|---:|---:|",
    ]
    for r in b.get("statistics", []):
        lines.append(
            f"| {r['preset']} | {r['policy']} | {r['metric']} | {r['ours']:.3f} ± {r['ours_se']:.3f} | "
            f"{r['theirs']:.3f} ± {r['theirs_se']:.3f} ({r['theirs_n']}) | {r['z']:+.2f} |"
        )
    return lines


def gridworld_chain_table(b: dict) -> list[str]:
    """``scripts/perception.py gridworld``: success from pixels vs from the true map, per named map."""
    lines = [
        "| map | slip | episodes | map read exactly | success (pixels) | success (true map) | return (pixels) | return (true map) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m in b.get("maps", []):
        lines.append(
            f"| `{m['map']}` | {m['slip']} | {m['episodes']} | {m['map_exact_rate']:.0%} | {m['success_rate']:.0%} "
            f"| {m['truth_success_rate']:.0%} | {m['mean_return']:.4f} | {m['truth_mean_return']:.4f} |"
        )
    return lines


def evaluation_table(evals: list[dict]) -> list[str]:
    """``scripts/evaluate.py`` results: one trained agent evaluated in our simulator and in highway-env."""
    lines = [
        "| agent | trained on | evaluated on | episodes | mean return ± std | crash rate |",
        "|---|---|---|---:|---:|---:|",
    ]
    for e in sorted(evals, key=lambda e: (e["algo"], e["trained_on"], e["env_id"])):
        crash = f"{e['crash_rate']:.0%}" if "crash_rate" in e else "–"
        lines.append(
            f"| {e['algo']} | `{e['trained_on']}` | `{e['env_id']}` | {e['episodes']} "
            f"| {e['mean_return']:.2f} ± {e['std_return']:.2f} | {crash} |"
        )
    return lines


def perception_eval_table(b: dict) -> list[str]:
    """``scripts/perception.py evaluate``: the CNN against the simulator's labels on held-out episodes."""
    rows = [
        ("held-out frames (dataset seed)", f"{b['frames']:,} ({b['data_seed']})"),
        (
            "occupancy F1 (all cells / without the ego's cell)",
            f"{b['occupancy_f1']:.4f} / {b['occupancy_f1_without_ego_cell']:.4f}",
        ),
        (
            "position MAE, nearest four vehicles",
            f"{b['position_mae_m']:.3f} m (x {b['x_mae_m']:.3f}, y {b['y_mae_m']:.3f})",
        ),
        ("speed MAE, nearest four vehicles", f"{b['speed_mae_m_s']:.3f} m/s"),
        ("presence accuracy, nearest four vehicles", f"{b['presence_accuracy']:.4f}"),
        (
            "CNN / whole pipeline frames/s",
            f"{b['cnn_frames_per_s']:,.0f} / {b['pipeline_frames_per_s']:,.0f}",
        ),
    ]
    return ["| metric | value |", "|---|---:|", *(f"| {k} | {v} |" for k, v in rows)]


def perception_tax_table(b: dict) -> list[str]:
    """``scripts/perception.py tax``: the same agent from the ground-truth state and through the CNN."""
    lines = ["| observation | episodes | mean return ± std | crash rate |", "|---|---:|---:|---:|"]
    for label, key in (
        ("ground-truth Kinematics", "ground_truth"),
        ("camera -> CNN -> Kinematics", "pixels"),
    ):
        e = b[key]
        lines.append(
            f"| {label} (`{e['env_id']}`) | {e['episodes']} | {e['mean_return']:.2f} ± {e['std_return']:.2f} "
            f"| {e['crash_rate']:.0%} |"
        )
    lines.append(f"| return kept through perception | | {b['return_kept']:.1%} | |")
    return lines


def data_efficiency_table(b: dict) -> list[str]:
    """``scripts/data_efficiency.py``: the experiment's own table (one definition, in perception)."""
    from perception.data_efficiency import format_table

    minutes = b.get("seconds", 0) / 60
    return [*format_table(b).splitlines(), "", f"Whole experiment: {minutes:.1f} min on this machine."]


def generic_table(b: dict) -> list[str]:
    """Benchmarks that carry their own ``table``: a list of rows (dicts with the same keys)."""
    rows = b.get("table") or []
    if not rows:
        return ["(no table in this result file)"]
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [
            (
                fmt(row[k], ",.0f" if abs(row[k]) >= 100 else ",.4g")
                if isinstance(row.get(k), float)
                else str(row.get(k, "–"))
            )
            for k in keys
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def agents_peer_table(b: dict) -> list[str]:
    """``scripts/benchmark.py agents``: both agents' training wall-clock and greedy evaluations."""
    lines = [
        f"Same budget, {b['steps']:,} env steps, seed {b['seed']}; greedy evaluation over 100 episodes.",
        "",
        "| agent | trained on | training wall-clock | evaluated on | mean return ± std | crash rate |",
        "|---|---|---:|---|---:|---:|",
    ]
    for side in ("peer", "ours"):
        r = b[side]
        trained_on = r["what"].split(" trained on ")[-1]
        for key, ev in r.items():
            if key.startswith("eval_"):
                lines.append(
                    f"| {r['what'].split(' trained on ')[0].rstrip(', ')} | `{trained_on}` | {r['train_seconds']:.0f} s | "
                    f"`{key[5:]}` | {ev['mean_return']:.2f} ± {ev['std_return']:.2f} | {100 * ev['crash_rate']:.0f}% |"
                )
    lines += ["", f"Training wall-clock ratio (peer / ours): {b['wall_clock_ratio_peer_over_ours']:.1f}×."]
    return lines


def pytest_benchmark_table(b: dict) -> list[str]:
    """pytest-benchmark's JSON: one row per benchmark, its mean time and the rates in ``extra_info``."""
    lines = ["| benchmark | mean time per call | measured |", "|---|---:|---|"]
    for x in b.get("benchmarks", []):
        extra = ", ".join(
            f"{k} {fmt(v, ',.0f') if isinstance(v, float) else v}" for k, v in x.get("extra_info", {}).items()
        )
        lines.append(f"| `{x['name']}` | {1e3 * x['stats']['mean']:,.1f} ms | {extra} |")
    cpu = (b.get("machine_info") or {}).get("cpu", {})
    if cpu:
        lines += ["", f"Machine: {cpu.get('brand_raw', '?')}, {cpu.get('count', '?')} CPUs."]
    return lines


def interval_text(estimate: list[float] | None, spec: str = ".2f") -> str:
    if not estimate:
        return "–"
    point, low, high = estimate
    return f"{format(point, spec)} [{format(low, spec)}, {format(high, spec)}]"


def seeds_table(b: dict) -> list[str]:
    """A comparison over training seeds: IQM and mean with 95% bootstrap CIs, then P(improvement)."""
    rows = [
        "| runs | seeds | greedy episodes per seed | IQM return [95% CI] | mean return [95% CI] | mean crash rate [95% CI] |",
        "|---|---|---|---|---|---|",
    ]
    for name, g in b["groups"].items():
        if not g["runs"]:
            continue
        rows.append(
            f"| {name} | {g['seeds']} | {g['episodes_per_seed']:,} | {interval_text(g.get('return_iqm'))} | "
            f"{interval_text(g.get('return_mean'))} | {interval_text(g.get('crash_rate_mean'), '.1%')} |"
        )
    trained = [f"- {name}: `{g['command']}`" for name, g in b["groups"].items() if g.get("command")]
    if trained:
        rows += ["", "Trained by:", "", *trained]
    pairs = b.get("probability_of_improvement") or {}
    if pairs:
        rows += [
            "",
            "| probability that a run of the first beats one of the second | estimate [95% CI] |",
            "|---|---|",
        ]
        rows += [f"| {pair} | {interval_text(est)} |" for pair, est in pairs.items()]
    return rows


def machine_line(b: dict) -> str:
    m = b.get("machine") or {}
    return f"Machine: {m.get('processor', '?')}, {m.get('cpus', '?')} CPUs, {m.get('platform', '?')}, Python {m.get('python', '?')}."


# ----------------------------------------------------------------------------- plots


def plot_learning_curves(results: list[dict], out: Path) -> Path | None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    import numpy as np

    with_curves = [r for r in results if any(c["step"] for c in r.get("curves") or [])]
    if not with_curves:
        return None
    n = len(with_curves)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), dpi=100, squeeze=False)
    for ax, r in zip(axes.flat, with_curves, strict=False):
        curves = [c for c in r["curves"] if c["step"]]
        grid = np.linspace(max(c["step"][0] for c in curves), min(c["step"][-1] for c in curves), 100)
        ys = np.array([np.interp(grid, c["step"], c["return_mean"]) for c in curves])
        mean, std = ys.mean(0), ys.std(0)
        ax.plot(grid, mean, label=f"mean over {len(curves)} seed(s)")
        ax.fill_between(grid, mean - std, mean + std, alpha=0.25, label="± std")
        ax.set_title(r["scenario"], fontsize=9)
        ax.set_xlabel("env steps")
        ax.set_ylabel("episode return")
        # compact step labels (50k, 1.2M): full numbers overlap on millions of steps
        ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter(sep=""))
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return atomic_write_bytes(out, buf.getvalue())


def scaling_curves(b: dict) -> dict[str, list[dict]]:
    """The num_envs sweep of ``scripts/benchmark.py highway`` per preset (default vehicles, NumPy outputs)."""
    curves: dict[str, list[dict]] = {}
    for c in b.get("cases", []):  # the num_envs sweep: default vehicles, NumPy outputs
        if "num_envs" in c and "vehicles_count" not in c and "backend" not in c and "batch" in c["case"]:
            highway = c.get("peer") == "highway" or "autodrive/Highway-v0" in c["case"]  # its preset
            label = "Highway" if highway else "HighwayFast"
            curves.setdefault(label, []).append(
                {"num_envs": c["num_envs"], "steps_per_s": c["env_steps_per_s"]}
            )
    return {k: sorted(v, key=lambda p: p["num_envs"]) for k, v in curves.items() if len(v) > 1}


def plot_highway_scaling(b: dict, out: Path) -> Path | None:
    """Env-steps/s vs num_envs for our simulator, with highway-env's single-env rate as a line."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = scaling_curves(b)
    if not curves:
        return None
    vehicles = sorted(
        (c["vehicles_count"], c["env_steps_per_s"], c.get("num_envs"))
        for c in b["cases"]
        if "vehicles_count" in c
    )
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4.0), dpi=110, gridspec_kw={"width_ratios": [3, 2]})
    for label, points in curves.items():
        xs = [p["num_envs"] for p in points]
        ys = [p["steps_per_s"] for p in points]
        ax.plot(xs, ys, marker="o", label=f"autodrive {label}")
    for label, value in (b.get("peer") or {}).items():
        ax.axhline(value, linestyle="--", color="grey")
        ax.text(1, value * 1.15, f"highway-env {label}: {value:,.0f}/s", fontsize=7, color="grey")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("num_envs (one batched env)")
    ax.set_ylabel("env-steps per second")
    ax.set_title("throughput vs batch size (CPU)", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if vehicles:
        ax2.plot([v[0] for v in vehicles], [v[1] for v in vehicles], marker="o", color="C0")
        ax2.set_xlabel("vehicles_count (HighwayFast dynamics)")
        ax2.set_ylabel("env-steps per second")
        ax2.set_title(f"throughput vs vehicles ({vehicles[0][2]:,} envs, CPU)", fontsize=10)
        ax2.set_yscale("log")
        ax2.grid(alpha=0.3, which="both")
    else:
        ax2.set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return atomic_write_bytes(out, buf.getvalue())


# ----------------------------------------------------------------------------- main


def fusion_table(b: dict) -> list[str]:
    """``scripts/fusion.py``: the experiment's own table (one definition, in perception)."""
    from perception.fusion import format_table

    cfg, truth = b["config"], b["ground_truth"]
    return [
        *format_table(b).splitlines(),
        "",
        f"Each CNN trained {cfg['cnn_steps']:,} steps on {cfg['train_frames']:,} frames; F1 and MAE on "
        f"{cfg['test_frames']:,} held-out frames; returns over {cfg['episodes']} episodes of "
        f"`{cfg['agent_dir']}` (ground truth: {truth['mean_return']:.2f}, crash rate "
        f"{truth.get('crash_rate', 0):.2f}); return ± its standard error; return kept = the condition's return / "
        "the same model's clean one.",
        *_tracked_line(cfg, b["models"]),
        *_visibility_line(b.get("lidar_visibility"), cfg.get("lidar_stack", 1), b.get("lidar_visible_truth")),
    ]


def _tracked_line(cfg: dict, models: dict) -> list[str]:
    if "coast_steps" not in cfg:
        return []
    objects = "; for the models that read LiDAR, object-level fusion with the LiDAR's own geometric objects"
    return [
        "",
        f"Tracked: the same CNN's detections through `perception.tracking`: a vehicle perception lost coasts "
        f"for up to {cfg['coast_steps']} steps at its last velocity, or until a LiDAR ray shows its place empty"
        + (
            objects
            + " (a detection the scan saw empty, or on the ego, is dropped; a detection a LiDAR object "
            "covers takes its velocity; a LiDAR object no detection covers is added)."
            if cfg.get("lidar_objects")
            else "."
        ),
    ]


def _visibility_line(v: dict | None, stack: int, visible: dict | None = None) -> list[str]:
    if not v:
        return []
    bound = (
        f" Driving on the true state with every vehicle no return of the last {stack} scan(s) reached removed "
        f"(perfect perception of the rays alone) returns {visible['mean_return']:.2f} ± "
        f"{visible['stderr_return']:.2f}, crash rate {visible.get('crash_rate', 0):.2f}."
        if visible
        else ""
    )
    return [
        "",
        f"The LiDAR and fused CNNs read the last {stack} scan(s). On the held-out frames, no LiDAR return lands "
        f"on {100 * v['unreached_share']:.1f}% of the 4 nearest vehicles within range (of {v['vehicles']:,}): "
        "they are hidden behind others, and only the camera sees them; "
        f"{100 * v['unreached_reached_one_step_before']:.1f}% of those were reached by the scan one step earlier."
        + bound,
    ]


def adversarial_table(b: dict) -> list[str]:
    """``scripts/adversarial.py``: the experiment's own tables (one definition, in perception)."""
    from perception.adversarial import format_policy_table, format_table

    cfg, truth, det = b["config"], b["ground_truth"], b["detector"]
    return [
        *format_table(b).splitlines(),
        "",
        f"The standard CNN trained {cfg['cnn_steps']:,} steps on {cfg['train_frames']:,} clean frames; the robust "
        f"one {cfg['robust_steps']:,} more steps of PGD adversarial training ({cfg['robust_pgd_steps']}-step PGD at "
        f"budgets {', '.join(f'{e:g}' for e in cfg['robust_budgets'])}/255 on {cfg['robust_share']:.0%} of each "
        f"batch). Attacks raise the CNN's detection loss on the labels (PGD: {cfg['pgd_steps']} steps, random "
        f"start); F1 and MAE on {cfg['eval_frames']:,} held-out frames. Driving: `{cfg['agent_dir']}` over "
        f"{cfg['episodes']} episodes (ground truth {truth['mean_return']:.2f}, crash rate "
        f"{truth.get('crash_rate', 0):.2f}), every camera frame attacked in the loop against the CNN's own clean "
        f"detections. The clean F1 the robust CNN gives up: {b['clean_f1_given_up']:+.3f}. Detector "
        f"(trained on FGSM/PGD frames against the standard CNN): false alarms {det['false_positive_rate']:.1%} "
        "on held-out clean frames at its threshold.",
        "",
        "The same attacks on the DQN's Kinematics input (features in [-1, 1]; 0.01 is 1 m of x or 0.4 m/s of vx):",
        "",
        *format_policy_table(b).splitlines(),
    ]


def plot_adversarial(b: dict, out: Path) -> Path:
    """Return against the attack budget: each CNN under each driven attack, the true state's return as a line."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8), dpi=110)
    styles = {"pgd": "-", "fgsm": "--", "noise": ":"}
    for i, (name, m) in enumerate(b["models"].items()):
        for kind, budgets in m["attacks"].items():
            points = [(0.0, m["clean"]["mean_return"])]
            points += [(float(e), r["mean_return"]) for e, r in budgets.items() if "mean_return" in r]
            if len(points) > 1:
                xs, ys = zip(*points)
                ax.plot(xs, ys, styles.get(kind, "-"), marker="o", color=f"C{i}", label=f"{name} CNN, {kind}")
    ax.axhline(b["ground_truth"]["mean_return"], color="grey", linestyle="-.", label="true state")
    ax.set_xlabel("L-infinity budget [pixel levels of 255]")
    ax.set_ylabel(f"mean return ({b['config']['episodes']} episodes)")
    ax.set_title("driving from pixels under attack (highway-fast, CPU)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return atomic_write_bytes(out, buf.getvalue())


def distillation_table(b: dict) -> list[str]:
    """``scripts/distill.py``: the experiment's own table (one definition, in agents.distill)."""
    from agents.distill import format_table

    return [
        *format_table(b).splitlines(),
        "",
        f"Returns over {b['config']['episodes']} greedy episodes in ours (seed 10,000) and "
        f"{b['config']['peer_episodes']} in highway-env's highway-fast-v0; the whole run took "
        f"{b['seconds'] / 60:.1f} min.",
    ]


def build(results_dir: Path, out_md: Path, img_dir: Path) -> tuple[str, str]:
    scenarios = [json.loads(p.read_text()) for p in sorted((results_dir / "scenarios").glob("*.json"))]
    md = [
        "# Results",
        "",
        "Generated by `python scripts/report.py` from the JSON files in `docs/results/`. Do not edit by hand.",
        "",
    ]
    headline: list[str] = []
    if scenarios:
        md += ["## Scenarios (`pytest -m scenario`)", "", *scenario_table(scenarios), ""]
        md.append(machine_line(scenarios[0]))
        md.append("")
        curve_png = plot_learning_curves(scenarios, img_dir / "learning_curves.png")
        if curve_png:
            md += [f"![learning curves]({Path('img') / curve_png.name})", ""]
        peers = peer_table(scenarios)
        if peers:
            md += ["### Peer pairs: a recipe on our simulator beside its peer on highway-env", "", *peers, ""]
        same_env = same_env_table(scenarios)
        if same_env:
            md += [
                "### Peer pairs in one env: our agent and the peer's, both evaluated in highway-env's world",
                "",
                *same_env,
                "",
            ]
        headline += ["**Scenarios** (`pytest -m scenario`):", "", *scenario_table(scenarios), ""]
        if peers:
            headline += [
                "**Peer pairs** (a recipe on our simulator beside its peer on highway-env: the same SB3 "
                "recipe, or SB3's DQN trained in highway-env's own world):",
                "",
                *peers,
                "",
            ]
        if same_env:
            headline += [
                "**In highway-env's own world**: the agent trained on our simulator and the peer trained "
                "in highway-env, evaluated in the same highway-env env:",
                "",
                *same_env,
                "",
            ]
        if curve_png:  # the README sits one folder above docs/
            headline += [f"![learning curves](docs/img/{curve_png.name})", ""]
    evals = [json.loads(p.read_text()) for p in sorted((results_dir / "evaluations").glob("*.json"))]
    if evals:
        title = "Trained agents in our simulator and in highway-env (`python scripts/evaluate.py`)"
        md += [f"## {title}", "", *evaluation_table(evals), ""]
        headline += [f"**{title}:**", "", *evaluation_table(evals), ""]
    sections = [  # result file stem, title, table, the command that writes the file
        ("gridworld", "GridWorld vs minigrid", gridworld_table, "scripts/benchmark.py gridworld"),
        ("highway", "Highway simulator vs highway-env", highway_table, "scripts/benchmark.py highway"),
        (
            "worlds",
            "Merge, exit and roundabout worlds vs highway-env",
            worlds_table,
            "scripts/benchmark.py worlds",
        ),
        (
            "fidelity-highway",
            "Driving simulator fidelity to highway-env (highway, highway-fast, merge)",
            fidelity_table,
            "scripts/fidelity.py",
        ),
        ("sb3", "stable-baselines3 through our batched envs", sb3_table, "scripts/benchmark.py sb3"),
        (
            "agents-peer",
            "Our DQN vs stable-baselines3 DQN on highway-env",
            agents_peer_table,
            "scripts/benchmark.py agents",
        ),
        (
            "perception-eval",
            "Perception CNN on held-out episodes",
            perception_eval_table,
            "scripts/perception.py evaluate",
        ),
        (
            "pytest-benchmark",
            "Throughput under pytest-benchmark",
            pytest_benchmark_table,
            "-m pytest -m benchmark --benchmark-json=docs/results/pytest-benchmark.json",
        ),
        (
            "perception-tax",
            "Perception tax: the highway agent driving from pixels",
            perception_tax_table,
            "scripts/perception.py tax",
        ),
        ("perception", "Perception throughput", generic_table, "scripts/benchmark.py perception"),
        (
            "data-efficiency",
            "Data-efficient perception: GAN augmentation and pretraining",
            data_efficiency_table,
            "scripts/data_efficiency.py",
        ),
        (
            "data-efficiency-autoencoder",
            "Pretraining ablation: the masked autoencoder instead of frame prediction (encoder rescaled)",
            data_efficiency_table,
            "scripts/data_efficiency.py --arms real pretrain --labels 250 --objective autoencoder "
            "--mask-ratio 0.25 --out docs/results/data-efficiency-autoencoder.json",
        ),
        (
            "data-efficiency-unscaled",
            "Pretraining ablation: frame prediction, the encoder not rescaled",
            data_efficiency_table,
            "scripts/data_efficiency.py --arms real pretrain --labels 250 --no-rescale "
            "--out docs/results/data-efficiency-unscaled.json",
        ),
        (
            "data-efficiency-lpft",
            "Earlier pretraining variant: the masked autoencoder's encoder, not rescaled, fine-tuned LP-FT style",
            data_efficiency_table,
            "scripts/data_efficiency.py --arms real pretrain --labels 250 --objective autoencoder "
            "--mask-ratio 0.25 --no-rescale --freeze-init-steps 500 --init-lr-scale 0.1 "
            "--out docs/results/data-efficiency-lpft.json",
        ),
        (
            "fusion",
            "Camera + LiDAR fusion: each sensor set, clean and with one sensor degraded",
            fusion_table,
            "scripts/fusion.py",
        ),
        (
            "adversarial",
            "Adversarial robustness: attacks on the perception CNN and the DQN, adversarial training, a detector",
            adversarial_table,
            "scripts/adversarial.py",
        ),
        (
            "distillation",
            "Distillation: a small DQN, a small perception CNN, and end to end from the modular chain",
            distillation_table,
            "scripts/distill.py",
        ),
        (
            "perception-gridworld",
            "GridWorld chain: pixels -> CNN -> map -> value iteration",
            gridworld_chain_table,
            "scripts/perception.py gridworld",
        ),
    ]
    for name, title, table, command in sections:
        b = load(results_dir / f"benchmark-{name}.json") or load(results_dir / f"{name}.json")
        if not b:
            continue
        section = [f"## {title} (`python {command}`)", "", *table(b), ""]
        if b.get("machine"):
            section += [machine_line(b), ""]
        png = None
        if name == "highway":
            png = plot_highway_scaling(b, img_dir / "highway_scaling.png")
        elif name == "adversarial":
            png = plot_adversarial(b, img_dir / "adversarial_return.png")
        if png:
            section += [f"![{name}]({Path('img') / png.name})", ""]
        md += section
        headline += [f"**{title}:**", "", *table(b), ""]
        if png:
            headline += [f"![{name}](docs/img/{png.name})", ""]
    for path in sorted((results_dir / "seeds").glob("*.json")):
        b = json.loads(path.read_text())
        title = f"{b['title']} over training seeds (`python scripts/report.py --compare {b['command']}`)"
        section = [f"## {title}", "", *seeds_table(b), ""]
        png = plot_seeds(b, img_dir / f"seeds-{path.stem}.png")
        md += [*section, f"![over seeds]({Path('img') / png.name})", ""]
        headline += [f"**{b['title']} over training seeds:**", "", *seeds_table(b), ""]
        headline += [f"![over seeds](docs/img/{png.name})", ""]
    text = "\n".join(md).rstrip() + "\n"
    atomic_write_text(out_md, text)
    return text, "\n".join(headline).rstrip() + "\n"


def plot_seeds(b: dict, out: Path) -> Path:
    from agents.aggregate import plot_comparison

    return plot_comparison(b, out, b["title"])


def write_comparison(pairs: list[str], name: str, results_dir: Path) -> Path:
    """``--compare NAME=DIR ...``: aggregate each DIR's runs (``DIR/runs/*`` or ``DIR/*``) over seeds."""
    from agents.aggregate import compare
    from agents.common.io import write_json

    groups = {}
    for item in pairs:
        label, sep, folder = item.partition("=")
        if not sep or not label or not folder:
            raise ValueError(f"--compare expects NAME=DIR, got {item!r}")
        root = Path(folder) / "runs" if (Path(folder) / "runs").is_dir() else Path(folder)
        runs = sorted(p for p in root.iterdir() if (p / "config.yaml").exists()) if root.is_dir() else []
        if not runs:
            raise ValueError(f"{folder} holds no run directories")
        groups[label] = runs
    result = compare(groups)
    for label, folder in (item.partition("=")[::2] for item in pairs):  # how each set was trained
        setup = Path(folder) / "sweep.yaml"
        if setup.exists():
            from agents.common.io import read_yaml

            s = read_yaml(setup)
            seeds = " ".join(str(k) for k in s["space"].get("seed", []))
            command = f"autodrive train --algo {s['algo']} --env {s['env_id']} --seeds {seeds}"
            command += f" --eval-episodes {s['eval_episodes']} --cpus-per-trial {s['cpus_per_trial']:g}"
            if s.get("hyperparams_table"):
                command += " --hyperparams FILE"
            result["groups"][label]["command"] = command + f" --out {folder}"
    envs = {r["env_id"] for g in groups.values() for r in map(_config, g)}
    algos = {r["algo"] for g in groups.values() for r in map(_config, g)}
    result["title"] = f"{' / '.join(sorted(algos))} on {' / '.join(sorted(envs))}: {', '.join(groups)}"
    result["command"] = " ".join(pairs) + f" --compare-name {name}"
    return write_json(results_dir / "seeds" / f"{name}.json", result)


def _config(run_dir: Path) -> dict:
    from agents.common.io import read_yaml

    return read_yaml(run_dir / "config.yaml")


def sync_readme(readme: Path, headline: str) -> bool:
    """Replace the README's block between the results markers with the headline tables."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        return False
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    block = f"{README_START}\n<!-- generated by scripts/report.py from docs/results; do not edit -->\n\n{headline}\n{README_END}"
    atomic_write_text(readme, head + block + tail)
    return True


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--results", default=str(ROOT / "docs/results"))
    parser.add_argument("--out", default=str(ROOT / "docs/RESULTS.md"))
    parser.add_argument("--readme", default=str(ROOT / "README.md"), help="README to sync ('' to skip)")
    parser.add_argument(
        "--compare", nargs="+", default=None, metavar="NAME=DIR", help="sets of runs over seeds to compare"
    )
    parser.add_argument("--compare-name", default=None, help="the comparison's file: RESULTS/seeds/NAME.json")
    args = parser.parse_args(argv)
    if args.compare:
        if not args.compare_name:
            parser.error("--compare needs --compare-name NAME (the result file's name)")
        try:
            path = write_comparison(args.compare, args.compare_name, Path(args.results))
        except (ValueError, FileNotFoundError) as exc:
            parser.error(str(exc))
        print(f"wrote {path}")
    if not Path(args.results).is_dir():  # e.g. an install outside a checkout, where docs/results is not
        parser.error(f"no result files: {args.results} is not a directory (give --results DIR)")
    out = Path(args.out)
    _, headline = build(Path(args.results), out, out.parent / "img")
    print(f"wrote {out}")
    if args.readme and sync_readme(Path(args.readme), headline):
        print(f"updated the results block of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
