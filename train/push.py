"""Push an exported model to the Hugging Face Hub, with a model card built from its metrics.

    python -m train.push runs/NAME/model --repo OWNER/NAME [--private] [--revision BRANCH]

Uploads config.json, model.safetensors, metrics.json, the grids and plots the card shows,
and README.md: the card rendered from metrics.json, in place of the mixin's default card.
The token comes from HF_TOKEN, else the saved login (`hf auth login`). Nothing local is
changed, so a failed push can simply be run again.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from huggingface_hub import CommitOperationAdd, HfApi

from vaegan.hub import classify, parse_repo_id
from vaegan.model import CONFIG_NAME, WEIGHTS_NAME

from .card import DEFAULT_DATA_NOTE, render_card

logger = logging.getLogger(__name__)

CARD_NAME = "README.md"
REQUIRED = (CONFIG_NAME, WEIGHTS_NAME, "metrics.json")
# Pushed when the export has them; the card shows the grids and the plots, and
# metrics.csv holds the numbers behind metrics.png.
OPTIONAL = (
    "reconstructed.png",
    "heldout.png",
    "generated.png",
    "morph.png",
    "losses.png",
    "metrics.png",
    "metrics.csv",
)
EXIT_USAGE, EXIT_HUB = 2, 4


class HubError(RuntimeError):
    """A Hub step failed; the message says why in one line."""


def raise_hub_error(err: Exception, repo_id: str) -> NoReturn:
    """Raise a HubError with one clear message for a Hub failure; re-raise anything else."""
    failure = classify(err, repo_id)
    if failure is None:
        raise err
    raise HubError(failure.message) from err


def check_repo_id(repo_id: str) -> str:
    """OWNER/NAME, checked without the network; raises ValueError otherwise."""
    name, revision = parse_repo_id(repo_id)
    if revision is not None:
        raise ValueError(f"{repo_id!r}: give the branch with --revision, not '@'.")
    return name


def check_hub_access(repo_id: str, token: str | None = None) -> str:
    """Fail fast before a long run: the repo id is valid and the token may write there.

    Returns the token's user name. Raises ValueError for a bad repo id and HubError for
    a missing or rejected token, a read-only token, a foreign namespace or no Hub.
    """
    owner = check_repo_id(repo_id).split("/")[0]
    try:
        info = HfApi(token=token).whoami()
    except Exception as err:
        raise_hub_error(err, repo_id)
    role = ((info.get("auth") or {}).get("accessToken") or {}).get("role")
    if role == "read":
        raise HubError("The Hugging Face token is read-only; pushing needs a write token.")
    names = [info.get("name", "")] + [o.get("name", "") for o in info.get("orgs") or []]
    if owner.lower() not in {n.lower() for n in names}:
        raise HubError(
            f"The token belongs to {names[0]!r}, who may not create repos under {owner!r} "
            f"(namespaces: {', '.join(names)})."
        )
    return names[0]


def upload_plan(export_dir: str | Path) -> dict[str, Path]:
    """{path in the repo: local file} for an export folder; raises FileNotFoundError."""
    export = Path(export_dir)
    missing = [name for name in REQUIRED if not (export / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{export} is not a model export: it lacks {', '.join(missing)} "
            "(python -m train writes one to runs/NAME/model)."
        )
    names = [*REQUIRED, *(n for n in OPTIONAL if (export / n).is_file())]
    return {name: export / name for name in names}


def build_card(
    export_dir: str | Path, repo_id: str, *, title: str | None = None, data_note: str | None = None
) -> str:
    """The README.md pushed with the model: metadata, data note, metrics, grids, usage."""
    return render_card(
        Path(export_dir),
        title=title or f"poster-vaegan: {repo_id.split('/')[1]}",
        repo_id=repo_id,
        data_note=data_note or DEFAULT_DATA_NOTE,
    )


def push_export(
    export_dir: str | Path,
    repo_id: str,
    *,
    private: bool = False,
    revision: str | None = None,
    token: str | None = None,
    title: str | None = None,
    data_note: str | None = None,
    commit_message: str | None = None,
) -> str:
    """Create the repo if needed and push the export with its card in one commit.

    Returns the commit's URL. Raises ValueError (repo id), FileNotFoundError (not an
    export) or HubError (token, network, permissions); local files are never touched.
    """
    repo_id = check_repo_id(repo_id)
    files = upload_plan(export_dir)
    card = build_card(export_dir, repo_id, title=title, data_note=data_note)
    operations = [
        CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path))
        for name, path in files.items()
    ]
    operations.append(CommitOperationAdd(path_in_repo=CARD_NAME, path_or_fileobj=card.encode()))
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True)
        if revision:
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        info = api.create_commit(
            repo_id,
            operations,
            commit_message=commit_message or f"Upload model from {Path(export_dir).name}",
            revision=revision,
        )
    except Exception as err:
        raise_hub_error(err, repo_id)
    url = getattr(info, "commit_url", None) or f"{api.endpoint}/{repo_id}"
    logger.info("Pushed %s (%d files) to %s", export_dir, len(operations), url)
    return url


class SnapshotPusher:
    """A Trainer epoch hook: push the model every `every` epochs; a failure only warns."""

    def __init__(self, repo_id: str, every: int, **push_options) -> None:
        self.repo_id, self.every, self.push_options = repo_id, every, push_options

    def __call__(self, trainer) -> None:
        """Export the current model to a temporary folder and push it."""
        if trainer.epoch % self.every:
            return
        from .export import export_model

        with tempfile.TemporaryDirectory(prefix="vaegan-push-") as tmp:
            try:
                export = export_model(trainer, Path(tmp) / "model")
                push_export(
                    export,
                    self.repo_id,
                    commit_message=f"Snapshot at epoch {trainer.epoch}",
                    **self.push_options,
                )
            except Exception as err:  # a snapshot push must never end the run
                logger.warning("Push at epoch %d failed; training goes on: %s", trainer.epoch, err)
                logger.debug("Push failure", exc_info=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.push", description=__doc__.split("\n")[0])
    p.add_argument("export", type=Path, help="an export folder, e.g. runs/NAME/model")
    p.add_argument("--repo", required=True, help="model repo, OWNER/NAME")
    p.add_argument("--private", action="store_true", help="create the repo private")
    p.add_argument("--revision", help="branch to push to (created if missing; default main)")
    p.add_argument("--title", help="the card's title (default: poster-vaegan: NAME)")
    p.add_argument("--data-note", help="what the model was trained on, and its rights")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def run_steps(steps: Callable[[], None]) -> int:
    """Run a Hub command's steps: 0, or one logged line and the failure's exit code."""
    try:
        steps()
    except (ValueError, FileNotFoundError) as err:
        logger.error("%s", err)
        return EXIT_USAGE
    except HubError as err:
        logger.error("%s", err)
        return EXIT_HUB
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return run_steps(lambda: _push(args))


def _push(args: argparse.Namespace) -> None:
    check_repo_id(args.repo)
    upload_plan(args.export)
    check_hub_access(args.repo)
    push_export(
        args.export,
        args.repo,
        private=args.private,
        revision=args.revision,
        title=args.title,
        data_note=args.data_note,
    )


if __name__ == "__main__":
    sys.exit(main())
