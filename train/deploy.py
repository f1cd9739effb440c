"""Deploy the Gradio app to a Hugging Face Space and point it at a model repo.

    python -m train.deploy --space OWNER/SPACE --model OWNER/MODEL[@REVISION] [--private]

Uploads only what the Space runs: app.py, requirements.txt, README.md (its front matter
configures the Space), LICENSE, vaegan/, examples/ and the shipped checkpoint
checkpoints/posters-128 (the app's fallback when the Hub cannot be reached); never
train/, tests/ or runs/. Then sets the Space variable VAEGAN_MODEL to --model. A private
model repo also needs a read token as the Space secret HF_TOKEN.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from huggingface_hub import CommitOperationAdd, HfApi

from vaegan.hub import parse_repo_id
from vaegan.model import CONFIG_NAME, WEIGHTS_NAME

from .push import check_hub_access, raise_hub_error, run_steps

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = "checkpoints/posters-128"
TOP_FILES = ("app.py", "requirements.txt", "README.md", "LICENSE")
# Folder: suffixes of the files the Space needs from it (never pickles or caches).
FOLDERS = {
    "vaegan": (".py",),
    "examples": (".jpg", ".jpeg", ".png", ".csv", ".md"),
    SHIPPED: (".json", ".safetensors", ".md", ".png"),
}
MODEL_VARIABLE = "VAEGAN_MODEL"


def space_files(root: Path = ROOT) -> dict[str, Path]:
    """{path in the Space: local file}, sorted; raises FileNotFoundError if a part is missing."""
    files = {name: root / name for name in TOP_FILES}
    for folder, suffixes in FOLDERS.items():
        found = sorted(p for p in (root / folder).glob("*") if p.suffix.lower() in suffixes)
        files.update({p.relative_to(root).as_posix(): p for p in found if p.is_file()})
    missing = [n for n, p in files.items() if not p.is_file()]
    shipped = root / SHIPPED
    missing += [
        f"{SHIPPED}/{n}" for n in (CONFIG_NAME, WEIGHTS_NAME) if not (shipped / n).is_file()
    ]
    if missing:
        raise FileNotFoundError(
            f"Cannot deploy: missing {', '.join(sorted(set(missing)))} (the shipped checkpoint "
            "comes from scripts/ship_checkpoint.py)."
        )
    _check_front_matter(files["README.md"])
    return dict(sorted(files.items()))


def _check_front_matter(readme: Path) -> None:
    """The Space is configured by README.md's YAML front matter; refuse one without it."""
    text = readme.read_text(encoding="utf-8")
    head = text.split("---", 2)[1] if text.startswith("---") and text.count("---") >= 2 else ""
    if "sdk: gradio" not in head or "app_file: app.py" not in head:
        raise FileNotFoundError(
            f"{readme} has no Space front matter (--- sdk: gradio, app_file: app.py ---)."
        )


def deploy_space(
    space_id: str,
    model_id: str | None,
    *,
    root: Path = ROOT,
    private: bool = False,
    token: str | None = None,
) -> str:
    """Create the Space if needed, set VAEGAN_MODEL, upload the app in one commit.

    Returns the commit's URL. Raises ValueError (repo ids), FileNotFoundError (a part of
    the app is missing) or HubError (token, network, permissions).
    """
    space_id = _plain_repo_id(space_id, "--space")
    if model_id is not None:
        parse_repo_id(model_id)
    files = space_files(root)
    operations = [
        CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(path))
        for name, path in files.items()
    ]
    api = HfApi(token=token)
    try:
        api.create_repo(
            space_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True
        )
        if model_id is not None:
            api.add_space_variable(
                space_id, MODEL_VARIABLE, model_id, description="model repo the app loads"
            )
        info = api.create_commit(
            space_id,
            operations,
            repo_type="space",
            commit_message=f"Deploy the app ({model_id or 'shipped checkpoint'})",
        )
    except Exception as err:
        raise_hub_error(err, space_id)
    url = getattr(info, "commit_url", None) or f"{api.endpoint}/spaces/{space_id}"
    logger.info("Deployed %d files to %s (VAEGAN_MODEL=%s)", len(files), url, model_id)
    return url


def _plain_repo_id(repo_id: str, flag: str) -> str:
    """OWNER/NAME for a flag that takes no revision; raises ValueError otherwise."""
    name, revision = parse_repo_id(repo_id)
    if revision is not None:
        raise ValueError(f"{flag} {repo_id!r}: a Space is deployed to its main branch, no '@'.")
    return name


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.deploy", description=__doc__.split("\n")[0])
    p.add_argument("--space", required=True, help="Space repo, OWNER/NAME")
    p.add_argument(
        "--model",
        help="model repo the Space loads, OWNER/NAME[@REVISION] (default: the shipped checkpoint)",
    )
    p.add_argument("--private", action="store_true", help="create the Space private")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run_steps(lambda: _deploy(args))


def _deploy(args: argparse.Namespace) -> None:
    _plain_repo_id(args.space, "--space")
    if args.model is not None:
        parse_repo_id(args.model)
    space_files()
    check_hub_access(args.space)
    deploy_space(args.space, args.model, private=args.private)


if __name__ == "__main__":
    sys.exit(main())
