"""``wirelessrl train d2d`` and ``wirelessrl predict``: a trained network as a model folder."""

from __future__ import annotations

import os
import sys

import click

from wirelessrl.cli import main


@main.group()
def train() -> None:
    """Train a network on a data file; save it as a model folder (then 'predict')."""


@train.command("d2d")
@click.option("--data", required=True, type=click.Path(dir_okay=False),
              help="D2D data file (from 'simulate d2d' or 'import d2d').")
@click.option("--objective", type=click.Choice(["sum", "min"]), required=True,
              help="sum-rate or min-rate.")
@click.option("-o", "--output", required=True, help="Model folder to write.")
@click.option("--family", type=click.Choice(["mlp", "gnn"]), default=None,
              help="mlp: the paper's network, one number of links [default]; gnn: graph "
                   "network, any number of links (with --from: the source's).")
@click.option("--input-transform", type=click.Choice(["standardized", "log-db"]),
              default="standardized", show_default=True,
              help="mlp input: per-entry standardized gains (the paper's) or standardized "
                   "dB gains.")
@click.option("--from", "source", default=None, metavar="SOURCE_MODEL_DIR",
              type=click.Path(file_okay=False), help="Transfer from this model folder.")
@click.option("--strategy", type=click.Choice(["regular", "conventional", "reconstruction",
                                               "finetune"]), default=None,
              help="Without --from: regular [default] or reconstruction (adds the "
                   "reconstruction loss: a source for later transfers). With --from: "
                   "conventional, reconstruction (frozen features, new head; default: the one "
                   "matching how the source was trained) or finetune.")
@click.option("--alpha", type=float, default=3.0, show_default=True,
              help="Reconstruction weight (--strategy reconstruction without --from).")
@click.option("--feature-lr-scale", type=float, default=0.1, show_default=True,
              help="finetune: learning rate of the feature module / --lr.")
@click.option("--valid-fraction", type=float, default=0.1, show_default=True,
              help="Layouts held out (seeded random split) to keep the best epoch.")
@click.option("--epochs", type=int, default=50, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Learning rate (Adam).")
@click.option("--batch-size", type=int, default=100, show_default=True)
@click.option("--patience", type=int, default=None,
              help="Stop after this many epochs without a better validation rate.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Initialization, shuffling and the train/validation split.")
@click.option("--threads", type=int, default=None, help="torch CPU threads (1 is usually "
                                                         "fastest for these networks).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1.")
@click.option("--stream/--in-memory", "stream", default=None,
              help="Read the training layouts from disk in chunks, or hold them in memory "
                   "[default: streamed when the file's gains exceed 1 GiB].")
@click.option("--chunk-size", type=int, default=None, metavar="N",
              help="--stream: layouts per chunk (default: 16 MiB of gains); the minibatches "
                   "shuffle chunks, then layouts inside a chunk.")
@click.option("--overwrite", is_flag=True, help="Replace an existing model folder.")
def train_d2d(data, objective, output, family, input_transform, source, strategy, alpha,
              feature_lr_scale, valid_fraction, epochs, lr, batch_size, patience, seed, threads,
              device, stream, chunk_size, overwrite) -> None:
    """Train a D2D power-control network on DATA (power, noise and SNR gap from its config).

    Example: wirelessrl train d2d --data data.h5 --objective sum --strategy reconstruction
    --epochs 20 --threads 1 -o sum-model; then wirelessrl train d2d --data small.h5
    --objective min --from sum-model -o min-model

    A data set larger than memory trains from disk (--stream, automatic above 1 GiB of
    gains). Under torchrun every rank trains its share of each minibatch and rank 0
    writes the model folder (docs/cluster.md).
    """
    from wirelessrl.modeldir import model_summary
    from wirelessrl.modeldir import train_d2d as run

    model = run(data, output, objective=objective, family=family,
                input_transform=input_transform, source=source,
                strategy=strategy, alpha=alpha, feature_lr_scale=feature_lr_scale,
                valid_fraction=valid_fraction, epochs=epochs, batch_size=batch_size, lr=lr,
                patience=patience, seed=seed, threads=threads, device=device,
                overwrite=overwrite, progress=sys.stderr.isatty() and _rank() == 0,
                stream=stream, chunk_size=chunk_size)
    if _rank() != 0:
        return  # under torchrun: rank 0 wrote the folder and reports it
    s = model_summary(model)
    links = "any number of" if s["n_links"] is None else s["n_links"]
    click.echo(f"trained a {s['family']} {objective}-rate network ({s['strategy']}, "
               f"{s['parameters']:,} parameters, {links} links): best epoch {s['best_epoch']}, "
               f"validation {s['valid_metric']} {s['valid_value']:.4f}; wrote {model.path}")


def _rank() -> int:
    """This process's rank under torchrun (0 otherwise)."""
    return int(os.environ.get("RANK", "0"))


@main.command()
@click.argument("model", type=click.Path(file_okay=False))
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, help="Solution file to write (.h5 or .mat).")
@click.option("--label", default=None,
              help="Method name shown by 'evaluate' (default: the model folder's name).")
@click.option("--chunk-size", type=int, default=None, metavar="N",
              help="Layouts per chunk (default: 16 MiB of gains).")
@click.option("--threads", type=int, default=None, help="torch CPU threads.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
def predict(model, data, output, label, chunk_size, threads, overwrite) -> None:
    """Apply a trained MODEL folder to every layout of DATA; write the powers as a solution
    file that 'wirelessrl evaluate DATA FILE' scores like any solver."""
    from wirelessrl.modeldir import predict_file

    res = predict_file(model, data, output, label=label, chunk_size=chunk_size,
                       threads=threads, overwrite=overwrite)
    for note in res.differences:
        click.echo(f"note: the data's system differs from the training data's: {note}",
                   err=True)
    click.echo(f"{res.label}: {res.n} layouts in {res.seconds:.2f} s, status "
               f"{{'unverified': {res.n}}}; wrote {res.path}")
