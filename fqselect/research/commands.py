"""The research harness's commands, `fqselect eval`, `fqselect train` and `fqselect calibrate-sets`: the
command finds them here by name (cli/app.py) and loads this module only when one is asked for."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..cli.app import PlainUsage
from ..cli.render import note, progress_bar
from ..errors import UsageError
from . import (
    TRAIN_ARCH,
    TRAIN_BLUR_PENALTY,
    TRAIN_DEGRADED,
    TRAIN_EPOCHS,
    TRAIN_LABELS,
    TRAIN_LOSS,
    TRAIN_NORM_SHARE,
    TRAIN_SAMPLES_PER_EPOCH,
    TRAIN_SIZE,
)

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.command("eval", cls=PlainUsage, epilog="Needs the \\[eval] extra for plots and dlib, and an identity-labelled folder (<identity>/<images>); "
                                "embeddings are cached under ~/.cache/fqselect. Exit codes: 0 done; 2 usage error.")
def eval_command(
    dataset: Path = typer.Argument(..., metavar="FOLDER", help="A folder laid out as <identity>/<images>."),
    people: Optional[Path] = typer.Option(None, "--people", help="Only these identities (LFW people list such as peopleDevTest.txt, or one name per line)."),
    out: Path = typer.Option(Path("eval"), "--out", "-o", help="Folder for results.md, results.json, edc.png, tar.png."),
    scorers: Optional[str] = typer.Option(None, "--scorers", help="Comma-separated scorers (default: every baseline and every network in zoo/weights/)."),
    peer: Optional[List[Path]] = typer.Option(None, "--peer", help="A peer LightQNet ONNX (repeatable; default: ../shared/peers/lightqnet-dm025, -dm050, -dm100 that are present)."),
    no_peer: bool = typer.Option(False, "--no-peer", help="Leave the peer models out."),
    recognizer: Optional[str] = typer.Option(None, "--recognizer", help="sface (default), dlib (needs the \\[eval] extra), or arcface (needs --model-pack)."),
    model_pack: Optional[str] = typer.Option(None, "--model-pack", help="insightface model pack for --recognizer arcface (implies it)."),
    splits: int = typer.Option(10, "--splits", min=1, help="Random two-template splits for TAR."),
    workers: int = typer.Option(2, "--workers", min=1, help="Processes for the one-off align-and-embed pass."),
):
    """Error-versus-discard and template-selection TAR for every scorer side by side.

    Examples:

      fqselect eval ../shared/data/lfw/images --people ../shared/data/lfw/peopleDevTest.txt --out eval

      fqselect eval faces/ --scorers tinyfqnet,blur --recognizer dlib
    """
    from ..faces.recognize import check_recognizer

    check_recognizer(model_pack, recognizer)
    from .evaluate import default_peers, run_evaluation

    if people is not None and not people.is_file():
        raise UsageError(f"{people}: people list not found")
    for path in peer or []:
        if not path.is_file():
            raise UsageError(f"{path}: peer model not found")
    peer_paths = [] if no_peer else (list(peer) if peer else default_peers())
    names = [s.strip() for s in scorers.split(",")] if scorers else None
    with progress_bar(False) as progress:
        task = progress.add_task("align and embed", total=None)
        run_evaluation(dataset, people, out, names, peer_paths, model_pack, splits, workers=workers,
                       log=note,
                       progress=lambda done, total: progress.update(task, completed=done, total=total),
                       recognizer=recognizer)
    note(f"wrote {out}/results.md, results.json and plots")


@app.command("train", epilog="Needs the \\[train] extra (PyTorch) and ../shared/data; about 30 minutes a network on 2 cores "
                                 "after a one-off embedding pass. Exit codes: 0 done; 2 usage error.")
def train_command(
    data: Optional[Path] = typer.Option(None, "--data", help="Folder with lfw/, celeba/, glint/, celeba-aligned/ (default: ../shared/data, or $FQ_SHARED/data)."),
    arch: str = typer.Option(TRAIN_ARCH, "--arch", help="tinyfqnet (the paper's Table I), tinyfqnet-wide (wider early stages, 24.7k parameters, 8.8 M multiply-adds at 112), tinyfqnet-scale (tinyfqnet-wide told the face's eye distance in source pixels: a second input) or lightqnet."),
    size: int = typer.Option(TRAIN_SIZE, "--size", min=32, help="Network input size (112: the aligned crop itself)."),
    width: float = typer.Option(1.0, "--width", min=0.25, help="Channel width multiplier of tinyfqnet (1.5: 22.6k parameters, 7.1 M multiply-adds at 112)."),
    loss: str = typer.Option(TRAIN_LOSS, "--loss", help="l2 (cosine to the identity centre), soft (its soft label at the FMR 1e-3 threshold), match (soft match rate against the identity's good images at that threshold), mix (the mean of match and l2), cr (CR-FIQA certainty ratio: l2 over one plus the cosine to the nearest other identity), rank (l2 plus a pairwise ranking loss), idq (LightQNet pairs), distill."),
    natural_share: Optional[float] = typer.Option(None, "--natural-share", min=0.0, max=1.0, help="Share of each batch from undegraded images (default: as the data has them)."),
    epochs: int = typer.Option(TRAIN_EPOCHS, "--epochs", min=1),
    ema: Optional[float] = typer.Option(None, "--ema", min=0.0, max=0.99999, help="Validate and keep an exponential moving average of the weights, with this decay a step (e.g. 0.998)."),
    samples_per_epoch: int = typer.Option(TRAIN_SAMPLES_PER_EPOCH, "--samples-per-epoch", min=128),
    seed: int = typer.Option(0, "--seed", help="Seeds the weights and the batches (and the data, unless --data-seed)."),
    data_seed: Optional[int] = typer.Option(None, "--data-seed", help="Seeds the degraded and closed-eye copies (default: --seed). A new one re-detects and re-embeds every copy (hours); a new --seed with --data-seed 0 reuses the cache."),
    degraded: int = typer.Option(TRAIN_DEGRADED, "--degraded", min=0, help="Source-degraded copies of every training image."),
    closed_eyes: bool = typer.Option(True, "--closed-eyes/--no-closed-eyes", help="A copy of every image with a blink or wink on it (made as --eye-style says)."),
    labels: str = typer.Option(TRAIN_LABELS, "--labels", help="centre (cosine to the leave-one-out centre of the identity's clean images), rho (each face's cosine to the identity's true centre, from a rank-one fit of its pairwise cosines: no penalty for belonging to an identity with few images), norm (SFace's feature length, mapped onto the cosine's scale: needs no other image of the identity), norm+mirror (the mean of the crop's and its mirror image's lengths, so mapped), centre+norm (centre and norm averaged) or centre+norm-natural (averaged on the natural images; the degraded copies keep the centre cosine)."),
    norm_share: float = typer.Option(TRAIN_NORM_SHARE, "--norm-share", min=0.0, max=1.0, help="The feature length's share of a centre+norm label; the centre cosine takes the rest."),
    centre_share: float = typer.Option(1.0, "--centre-share", min=0.1, max=1.0, help="Identity centres (the labels' reference) from this best share of each identity's clean images (1: all of them; --labels centre only)."),
    eye_style: str = typer.Option("paint", "--eye-style", help="How the closed-eye copies are made: paint (cheek-coloured skin over the eye) or lids (the face's own upper lid stretched down over it)."),
    jpeg_penalty: float = typer.Option(0.0, "--jpeg-penalty", min=0.0, max=1.0, help="Taken off the training labels of the heavy-JPEG copies, beyond what SFace takes off (people judge picks by eye)."),
    blur_penalty: float = typer.Option(TRAIN_BLUR_PENALTY, "--blur-penalty", min=0.0, max=1.0, help="Taken off the training labels of copies that lost 16 times their detail or more against their own undegraded face (train.softness; the bundled example's defocused second lost 8-11 times), in proportion below that, beyond what SFace takes off (people judge picks by eye)."),
    blur_onset: float = typer.Option(0.0, "--blur-onset", min=0.0, max=3.5, help="Octaves of lost detail (train.softness) below which --blur-penalty takes nothing off; it then grows to its full value at 4 octaves."),
    closed_eye_penalty: float = typer.Option(0.0, "--closed-eye-penalty", min=0.0, max=1.0, help="Taken off the training labels of the closed-eye copies, beyond what SFace takes off (enrollment wants open eyes; SFace barely minds a wink)."),
    name: Optional[str] = typer.Option(None, "--name", help="Weights file name (default: the architecture)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where the .onnx and its .json card go (default: the package's zoo/weights/)."),
    workers: int = typer.Option(2, "--workers", min=1, help="Processes for the one-off align-and-embed passes (cached)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="PyTorch threads (default: all cores)."),
):
    """Train a quality network from recognition-oriented labels (SFace's own embeddings).

    Examples:

      fqselect train --name tinyfqnet     (the shipped default: tinyfqnet-scale, centre+norm labels, blur penalty)

      fqselect train --loss idq --epochs 4 --out /tmp/nets --name trial
    """
    from . import DataRecipe, Recipe
    from .train import run_training

    # The data's seed defaults to the training seed, as in every card so far; apart, a new training
    # seed reuses the cached embeddings and repeats in minutes.
    data_recipe = DataRecipe(degraded=degraded, closed_eyes=closed_eyes, eye_style=eye_style,
                             closed_eye_penalty=closed_eye_penalty, jpeg_penalty=jpeg_penalty,
                             centre_share=centre_share, labels=labels, seed=seed if data_seed is None else data_seed,
                             blur_penalty=blur_penalty, blur_onset=blur_onset, norm_share=norm_share)
    recipe = Recipe(arch=arch, size=size, width=width, loss=loss, epochs=epochs, samples_per_epoch=samples_per_epoch,
                    seed=seed, natural_share=natural_share, ema=ema, data=data_recipe)
    run_training(recipe, data, name, out, workers=workers, threads=threads,
                 command="fqselect train " + " ".join(sys.argv[2:]), log=note)


@app.command("calibrate-sets", epilog="Needs ../shared/data (a one-off embedding pass of the validation identities, cached).")
def calibrate_sets_command(
    data: Optional[Path] = typer.Option(None, "--data", help="Folder with lfw/, celeba/, glint/, celeba-aligned/ (default: ../shared/data, or $FQ_SHARED/data)."),
    network: str = typer.Option("tinyfqnet", "--network", help="The network in zoo/weights/ whose card gets the set calibration."),
    workers: int = typer.Option(2, "--workers", min=1, help="Processes for the one-off align-and-embed pass (cached)."),
):
    """Fit how the network's quality and the recogniser's agreement within a set combine (quality/agreement.py),
    on the validation identities, and write it into the network's model card."""
    from ..faces.recognize import load_recognizer
    from ..quality.network import NetworkScorer
    from ..zoo.files import weights_dir
    from .dataset import DEFAULT_CACHE
    from .sets import calibrate_sets
    from .train import training_data

    path = weights_dir() / f"{network}.onnx"
    scorer = NetworkScorer.from_weights(path)
    match = load_recognizer().points["match"]
    calibrate_sets(training_data(data), DEFAULT_CACHE, workers, path.with_suffix(".json"), scorer, match,
                   command="fqselect calibrate-sets " + " ".join(sys.argv[2:]), log=note)
