#!/usr/bin/env python
"""The data-efficiency experiment (GAN augmentation, self-supervised pretraining vs plain training): runs every
arm x label regime x seed, writes docs/results/data-efficiency.json and prints the table.

autodrive data-efficiency                                # the full experiment (<= 30 min on 2 CPU cores)
autodrive data-efficiency --reduced                      # a ~1 minute smoke version (the default test run's)
autodrive data-efficiency --agent runs/<highway-dqn-run>          # also the perception tax per arm

A probe of one method variant, e.g. the masked autoencoder instead of frame prediction, or the pretrained
encoder fine-tuned LP-FT style:
autodrive data-efficiency --arms real pretrain --labels 250 --objective autoencoder \
    --mask-ratio 0.25 --out /tmp/ae.json
autodrive data-efficiency --arms real pretrain --labels 250 --freeze-init-steps 500 \
    --init-lr-scale 0.1 --out /tmp/probe.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

ROOT = Path(__file__).resolve().parents[1]


def tax_function(agent: str, episodes: int, workdir: Path):
    """model -> perception tax (1 - return kept through the CNN) of the agent in ``agent``'s run dir."""
    from agents import load_policy
    from agents.common.evaluation import evaluate_policy
    from perception.model import save_model
    from perception.tax import perception_tax

    policy = load_policy(agent)

    def tax(model) -> float:
        save_model(model, workdir / "tax-model")
        return (
            1.0
            - perception_tax(policy, evaluate_policy, workdir / "tax-model", episodes=episodes)["return_kept"]
        )

    return tax


def with_variants(cfg, args: argparse.Namespace):
    """``cfg`` with the command line's variant options applied (each None leaves the default)."""
    import dataclasses

    fields = {
        name: tuple(value)
        for name in ("arms", "labels", "seeds", "transfer")
        if (value := getattr(args, name)) is not None
    }
    finetune = {
        name: value
        for name in ("freeze_init_steps", "init_lr_scale")
        if (value := getattr(args, name)) is not None
    }
    if finetune:  # only the pretrained arms load weights, so only they are affected
        fields["cnn"] = dataclasses.replace(cfg.cnn, **finetune)
    pretraining = {
        name: value for name in ("objective", "mask_ratio") if (value := getattr(args, name)) is not None
    }
    if pretraining:
        fields["pretrain"] = dataclasses.replace(cfg.pretrain, **pretraining)
    if args.no_rescale:
        fields["rescale_encoder"] = False
    return dataclasses.replace(cfg, **fields)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--reduced", action="store_true", help="tiny budgets: checks the pipeline, not the method"
    )
    parser.add_argument(
        "--workdir", default=str(ROOT / "runs" / "data-efficiency"), help="datasets and cache"
    )
    parser.add_argument(
        "--out", default=None, help="results JSON (default docs/results/data-efficiency.json)"
    )
    parser.add_argument(
        "--samples", default=str(ROOT / "docs" / "img" / "gan_samples.png"), help="GAN sample grid"
    )
    parser.add_argument(
        "--agent", default=None, help="a highway agent's run dir: also measure the perception tax"
    )
    parser.add_argument("--tax-episodes", type=int, default=20)
    parser.add_argument("--quiet", action="store_true")
    probe = parser.add_argument_group("variants (default: the experiment as specified)")
    probe.add_argument("--arms", nargs="+", default=None, help="a subset of the arms")
    probe.add_argument("--labels", nargs="+", type=int, default=None, help="label regimes")
    probe.add_argument("--seeds", nargs="+", type=int, default=None)
    probe.add_argument(
        "--transfer", nargs="+", default=None, help="encoder prefixes the pretrained arms take (stem. trunk.)"
    )
    probe.add_argument("--objective", default=None, help="pretraining objective (predictive, autoencoder)")
    probe.add_argument(
        "--mask-ratio", type=float, default=None, help="share of input cells blanked for pretraining"
    )
    probe.add_argument(
        "--no-rescale",
        action="store_true",
        help="fine-tune from the pretrained encoder as is, not rescaled to a fresh init's activation size",
    )
    probe.add_argument(
        "--freeze-init-steps", type=int, default=None, help="steps the transferred layers stay frozen"
    )
    probe.add_argument(
        "--init-lr-scale", type=float, default=None, help="learning-rate factor of the transferred layers"
    )
    return parser


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    args = build_parser(prog).parse_args(argv)

    from envs.io import write_json
    from perception.data_efficiency import ExperimentConfig, format_table, run

    cfg = ExperimentConfig.reduced() if args.reduced else ExperimentConfig()
    cfg = with_variants(cfg, args)
    workdir = Path(args.workdir) / ("reduced" if args.reduced else "full")
    out = (
        Path(args.out)
        if args.out
        else ROOT / "docs" / "results" / f"data-efficiency{'-reduced' if args.reduced else ''}.json"
    )
    tax_fn = tax_function(args.agent, args.tax_episodes, workdir) if args.agent else None
    samples = None if args.reduced else args.samples
    result = run(cfg, workdir, progress=not args.quiet, tax_fn=tax_fn, samples_png=samples)
    write_json(out, result)
    print(format_table(result))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
