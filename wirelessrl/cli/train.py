"""``wirelessrl train d2d|mu-miso`` and ``wirelessrl predict``: a trained network as a model
folder."""

from __future__ import annotations

import os
import sys

import click

from wirelessrl.cli import main


@main.group()
def train() -> None:
    """Train a network on a data file; save it as a model folder (then 'predict')."""


def training_options(f):
    """The options every ``train TASK`` command shares (all but the task's own)."""
    for option in reversed([
        click.option("--objective", type=click.Choice(["sum", "min"]), required=True,
                     help="sum-rate or min-rate."),
        click.option("-o", "--output", required=True, help="Model folder to write."),
        click.option("--from", "source", default=None, metavar="SOURCE_MODEL_DIR",
                     type=click.Path(file_okay=False),
                     help="Transfer from this model folder (of the same task)."),
        click.option("--strategy", type=click.Choice(["regular", "conventional",
                                                      "reconstruction", "finetune"]),
                     default=None,
                     help="Without --from: regular [default] or reconstruction (adds the "
                          "reconstruction loss: a source for later transfers). With --from: "
                          "conventional, reconstruction (frozen features, new head; default: "
                          "the one matching how the source was trained) or finetune."),
        click.option("--alpha", type=float, default=3.0, show_default=True,
                     help="Reconstruction weight (--strategy reconstruction without --from)."),
        click.option("--feature-lr-scale", type=float, default=0.1, show_default=True,
                     help="finetune: learning rate of the feature module / --lr."),
        click.option("--valid", default=None, type=click.Path(dir_okay=False),
                     metavar="FILE",
                     help="Validate on this data file (the same system config) instead of "
                          "a split of --data, which then trains whole."),
        click.option("--valid-fraction", type=float, default=None,
                     help="Samples of --data held out (seeded random split) to keep the "
                          "best epoch  [default: 0.1; not with --valid]."),
        click.option("--epochs", type=int, default=50, show_default=True),
        click.option("--lr", type=float, default=1e-3, show_default=True,
                     help="Learning rate (Adam)."),
        click.option("--lr-schedule", type=click.Choice(["constant", "cosine"]),
                     default="constant", show_default=True,
                     help="cosine: the learning rate decays from --lr to ~0 over --epochs."),
        click.option("--batch-size", type=int, default=100, show_default=True),
        click.option("--patience", type=int, default=None,
                     help="Stop after this many epochs without a better validation rate."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Initialization, shuffling and the train/validation split."),
        click.option("--threads", type=int, default=None,
                     help="torch CPU threads (1 is usually fastest for these networks)."),
        click.option("--device", default="auto", show_default=True,
                     help="auto, cpu, cuda, cuda:1."),
        click.option("--checkpoint-every", "checkpoint_every_s", type=float, default=30.0,
                     show_default=True, metavar="SECONDS",
                     help="Save the training state this often (beside -o, in "
                          ".NAME.training); a rerun of the same command after an "
                          "interruption resumes from it."),
        click.option("--restart", is_flag=True,
                     help="Discard an interrupted training of -o instead of resuming it."),
        click.option("--overwrite", is_flag=True, help="Replace an existing model folder."),
    ]):
        f = option(f)
    return f


def _train(task: str, data: str, input_option: str | None, options: dict) -> None:
    """Call :func:`wirelessrl.modeldir.train_model`; print one line about the model (or,
    on Ctrl-C, where a rerun resumes)."""
    from wirelessrl.modeldir import (
        interrupted_epoch,
        model_summary,
        train_model,
        training_state_dir,
    )

    try:
        model = train_model(task, data, input_option=input_option,
                            progress=sys.stderr.isatty() and _rank() == 0, **options)
    except KeyboardInterrupt:
        epoch = interrupted_epoch(options["output"])
        where = training_state_dir(options["output"])
        resume = "no checkpoint yet: a rerun starts over" if epoch is None else \
            f"rerun the same command to resume from epoch {epoch} (state in {where})"
        click.echo(f"interrupted: stopped by Ctrl-C; no model folder was written; {resume}",
                   err=True)
        sys.exit(130)
    if _rank() != 0:
        return  # under torchrun: rank 0 wrote the folder and reports it
    s = model_summary(model)
    resumed = "" if s["resumed_from"] is None else f"resumed from epoch {s['resumed_from']}, "
    click.echo(f"trained a {s['family']} {s['objective']}-rate network ({s['strategy']}, "
               f"{s['parameters']:,} parameters, {s['sizes']}): {resumed}best epoch "
               f"{s['best_epoch']}, validation {s['valid_metric']} {s['valid_value']:.4f}; "
               f"wrote {model.path}")


def _rank() -> int:
    """This process's rank under torchrun (0 otherwise)."""
    return int(os.environ.get("RANK", "0"))


@train.command("d2d")
@click.option("--data", required=True, type=click.Path(dir_okay=False),
              help="D2D data file (from 'simulate d2d' or 'import d2d').")
@click.option("--family", type=click.Choice(["mlp", "gnn"]), default=None,
              help="gnn: graph network, any number of links [default]; mlp: the paper's "
                   "network, one number of links (with --from: the source's).")
@click.option("--input-transform", type=click.Choice(["standardized", "log-db"]),
              default=None,
              help="mlp input: per-entry standardized gains (the paper's) [default] or "
                   "standardized dB gains.")
@click.option("--stream/--in-memory", "stream", default=None,
              help="Read the training layouts from disk in chunks, or hold them in memory "
                   "[default: streamed when the file's gains exceed 1 GiB].")
@click.option("--chunk-size", type=int, default=None, metavar="N",
              help="--stream: layouts per chunk (default: 16 MiB of gains); the minibatches "
                   "shuffle chunks, then layouts inside a chunk.")
@training_options
def train_d2d(data, input_transform, **options) -> None:
    """Train a D2D power-control network on DATA (power, noise and SNR gap from its config).

    Example: wirelessrl train d2d --data data.h5 --objective sum --strategy reconstruction
    --epochs 20 --threads 1 -o sum-model; then wirelessrl train d2d --data small.h5
    --objective min --from sum-model -o min-model

    A data set larger than memory trains from disk (--stream, automatic above 1 GiB of
    gains). Under torchrun every rank trains its share of each minibatch and rank 0
    writes the model folder (docs/cluster.md).
    """
    _train("d2d", data, input_transform, options)


@train.command("mu-miso")
@click.option("--data", required=True, type=click.Path(dir_okay=False),
              help="Multi-user MISO data file (from 'simulate mu-miso' or 'import mu-miso').")
@click.option("--family", type=click.Choice(["mlp", "structured"]), default=None,
              help="structured: user-equivariant beams of the optimal structure, any number "
                   "of users at the trained antennas [default]; mlp: flat 2KM reals in "
                   "and out, one number of users (with --from: the source's).")
@click.option("--input", "input_kind", type=click.Choice(["channel", "pilots"]), default=None,
              help="What the network sees: the channel (perfect CSI) [default] or its "
                   "least-squares estimate from the uplink pilots (the file needs y).")
@training_options
def train_mu_miso(data, input_kind, **options) -> None:
    """Train a multi-user MISO downlink beamformer on DATA (power and noise from its
    config); the beams meet the total power exactly.

    Example: wirelessrl train mu-miso --data mu.h5 --objective sum --family structured
    --strategy reconstruction --epochs 20 --threads 1 -o sum-beams; then wirelessrl train
    mu-miso --data few.h5 --objective min --from sum-beams -o min-beams
    """
    _train("mu-miso", data, input_kind, options)


@main.command()
@click.argument("model", type=click.Path(file_okay=False))
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, help="Solution file to write (.h5 or .mat).")
@click.option("--label", default=None,
              help="Method name shown by 'evaluate' (default: the model folder's name).")
@click.option("--chunk-size", type=int, default=None, metavar="N",
              help="Samples per chunk (default: 16 MiB of data).")
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
def predict(model, data, output, label, chunk_size, threads, overwrite) -> None:
    """Apply a trained MODEL folder to every sample of DATA (a file of its task: D2D
    layouts or multi-user MISO channels); write the powers or beamformers as a solution
    file that 'wirelessrl evaluate DATA FILE' scores like any solver."""
    from wirelessrl.modeldir import predict_file

    res = predict_file(model, data, output, label=label, chunk_size=chunk_size,
                       threads=threads, overwrite=overwrite)
    for note in res.differences:
        click.echo(f"note: the data's system differs from the training data's: {note}",
                   err=True)
    click.echo(f"{res.label}: {res.n} {res.items} in {res.seconds:.2f} s, status "
               f"{{'unverified': {res.n}}}; wrote {res.path}")
