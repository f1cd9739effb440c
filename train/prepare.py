"""Turn a raw download folder into a clean training folder.

    python -m train.prepare RAW_DIR DATA_DIR [--max-side 1024] [--threshold 4]

Every file below RAW_DIR (hidden files and folders aside) is read, never
written. Images the library can use (`vaegan.images.open_image`: decodable,
within its size limits, made upright RGB) are saved to DATA_DIR under the same
relative path, capped at --max-side pixels on the long side with the aspect
kept: JPEG sources as JPEG (quality 95, no chroma subsampling, so poster text
stays crisp), everything else as PNG (lossless sources stay lossless).

Exact duplicates (same sha256) and near duplicates (perceptual hash within
--threshold bits) are dropped; of each group the copy with the most pixels is
kept. DATA_DIR/manifest.csv lists every raw file with its fate. The contact
sheet (thumbnails of the kept set) is written beside DATA_DIR, as
DATA_DIR_contact.png, because an image inside DATA_DIR would be trained on.

DATA_DIR must be new or empty and outside RAW_DIR. Exit status: 0 done,
1 no usable image, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import logging
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import imagehash
import numpy as np
import torch
from PIL import Image
from torchvision.utils import make_grid

from vaegan import images as vimages
from vaegan.images import ImageError, open_image

logger = logging.getLogger(__name__)

MAX_SIDE = 1024
NEAR_THRESHOLD = 4  # bits of 64; resized or re-encoded copies differ by 0-2
THUMB_SIDE = 128
SHEET_COLUMNS = 16
JPEG_FORMATS = {"JPEG", "MPO"}  # MPO: the JPEG variant some cameras write
MANIFEST_FIELDS = ["source", "size", "sha256", "phash", "status", "detail", "output"]


class PrepareError(ValueError):
    """Arguments that cannot be prepared from; the message says what to do."""


class NothingKeptError(PrepareError):
    """RAW_DIR holds no usable image; the message counts what it does hold."""


@dataclass
class Entry:
    """One raw file and what became of it; `path` is relative to RAW_DIR."""

    path: str
    sha256: str
    status: str = ""
    detail: str = ""
    size: tuple[int, int] | None = None  # upright (width, height)
    is_jpeg: bool = False
    phash: imagehash.ImageHash | None = None
    thumb: Image.Image | None = None
    output: str = ""

    @property
    def pixels(self) -> int:
        return self.size[0] * self.size[1] if self.size else 0


# ------------------------------------------------------------------ scanning


def raw_files(raw: Path) -> list[Path]:
    """Every non-hidden file below raw, sorted by relative path."""
    files = [
        p
        for p in raw.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(raw).parts)
    ]
    return sorted(files, key=lambda p: p.relative_to(raw).as_posix())


def sha256_of(path: Path) -> str:
    """Hex sha256 of the file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def header_size(path: Path) -> tuple[tuple[int, int], str] | None:
    """(width, height) and format from the header alone; None if not an image.

    Raises ImageError for an image too large for Pillow even to describe.
    """
    try:
        with Image.open(path) as image:
            return image.size, image.format or ""
    except Image.DecompressionBombError as err:
        raise ImageError(f"The image is too large ({err}).") from err
    except (OSError, SyntaxError, ValueError):
        return None


def scan(path: Path, rel: str, min_side: int) -> Entry:
    """Classify one file; a usable image gets its size, phash and thumbnail."""
    entry = Entry(rel, sha256_of(path))
    try:
        header = header_size(path)
    except ImageError as err:
        entry.status, entry.detail = "too large", str(err)
        return entry
    if header is None:
        entry.status = "not an image"
        return entry
    (width, height), fmt = header
    entry.size, entry.is_jpeg = (width, height), fmt in JPEG_FORMATS
    try:
        # Same check open_image makes, called here to tell small from large.
        vimages.check_size((width, height))
    except ImageError as err:
        too_large = width * height > vimages.MAX_PIXELS
        entry.status, entry.detail = ("too large" if too_large else "too small"), str(err)
        return entry
    if min(width, height) < min_side:
        entry.status = "too small"
        entry.detail = f"{width}x{height} pixels; --min-side is {min_side}"
        return entry
    try:
        image = open_image(path)
    except ImageError as err:
        entry.status, entry.detail = "broken", str(err)
        return entry
    entry.size = image.size  # upright, after EXIF rotation
    entry.phash = imagehash.phash(image)
    image.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BICUBIC)
    entry.thumb = image
    return entry


# ------------------------------------------------------------- deduplication


def deduplicate(entries: list[Entry], threshold: int) -> None:
    """Mark each usable entry kept, duplicate or near-duplicate, in place.

    Largest first, so the copy kept of a group is its largest; among equals the
    shortest path wins ("poster.jpg" over "poster (1).jpg", a download's
    repeat). threshold < 0 turns near-duplicate detection off.
    """
    candidates = sorted(
        (e for e in entries if e.phash is not None),
        key=lambda e: (-e.pixels, len(e.path), e.path),
    )
    kept: list[Entry] = []
    first_by_sha: dict[str, Entry] = {}
    for entry in candidates:
        twin = first_by_sha.setdefault(entry.sha256, entry)
        if twin is not entry:
            # A byte-identical copy shares its twin's fate, named after the kept file.
            if twin.status == "kept":
                entry.status = f"duplicate of {twin.path}"
            else:
                entry.status, entry.detail = twin.status, twin.detail
            continue
        nearest = _nearest(entry, kept)
        if nearest is not None and threshold >= 0 and nearest[1] <= threshold:
            entry.status = f"near-duplicate of {nearest[0].path}"
            entry.detail = f"phash distance {nearest[1]}"
            continue
        entry.status = "kept"
        kept.append(entry)


def _nearest(entry: Entry, kept: list[Entry]) -> tuple[Entry, int] | None:
    """The kept entry with the closest perceptual hash and its Hamming distance."""
    best: tuple[Entry, int] | None = None
    for other in kept:
        distance = entry.phash - other.phash
        if best is None or distance < best[1]:
            best = (other, distance)
    return best


# ------------------------------------------------------------------- writing


def output_names(entries: list[Entry]) -> None:
    """Give each kept entry a unique relative output path ending .jpg/.jpeg or .png.

    Files that keep their name are named first, so a.png stays a.png when a.gif
    also becomes a PNG (as a_gif.png).
    """
    kept = [e for e in entries if e.status == "kept"]
    taken: set[str] = set()
    for entry in sorted(kept, key=lambda e: Path(e.path).suffix != _suffix(e)):
        source = Path(entry.path)
        suffix = _suffix(entry)
        name = source.with_suffix(suffix)
        if name.as_posix().lower() in taken:
            name = source.with_name(f"{source.stem}_{source.suffix.lstrip('.')}{suffix}")
        base, count = name, 2
        while name.as_posix().lower() in taken:  # lower: case-insensitive file systems
            name = base.with_name(f"{base.stem}-{count}{suffix}")
            count += 1
        taken.add(name.as_posix().lower())
        entry.output = name.as_posix()


def _suffix(entry: Entry) -> str:
    """The output suffix: the source's own when it already names the format."""
    own = Path(entry.path).suffix
    if entry.is_jpeg:
        return own if own.lower() in (".jpg", ".jpeg") else ".jpg"
    return own if own.lower() == ".png" else ".png"


def capped(image: Image.Image, max_side: int) -> Image.Image:
    """The image scaled down so its long side is at most max_side, aspect kept."""
    width, height = image.size
    scale = max_side / max(width, height)
    if scale >= 1:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def save_kept(raw: Path, data: Path, entries: list[Entry], max_side: int) -> None:
    """Decode each kept file again (one image in memory at a time) and save it."""
    for entry in entries:
        if entry.status != "kept":
            continue
        image = capped(open_image(raw / entry.path), max_side)
        dst = data / entry.output
        dst.parent.mkdir(parents=True, exist_ok=True)
        if entry.is_jpeg:
            image.save(dst, "JPEG", quality=95, subsampling=0, optimize=True)
        else:
            image.save(dst, "PNG")


def write_manifest(path: Path, entries: list[Entry]) -> None:
    """One row per raw file, sorted by source path."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        for e in entries:
            writer.writerow(
                {
                    "source": e.path,
                    "size": f"{e.size[0]}x{e.size[1]}" if e.size else "",
                    "sha256": e.sha256,
                    "phash": str(e.phash) if e.phash is not None else "",
                    "status": e.status,
                    "detail": e.detail,
                    "output": e.output,
                }
            )


def contact_sheet(thumbs: list[Image.Image], path: Path) -> None:
    """Thumbnails centred on white THUMB_SIDE squares, SHEET_COLUMNS to a row."""
    tiles = []
    for thumb in thumbs:
        tile = Image.new("RGB", (THUMB_SIDE, THUMB_SIDE), (255, 255, 255))
        tile.paste(thumb, ((THUMB_SIDE - thumb.width) // 2, (THUMB_SIDE - thumb.height) // 2))
        tiles.append(torch.from_numpy(np.asarray(tile).copy()).permute(2, 0, 1))
    grid = make_grid(
        torch.stack(tiles), nrow=min(SHEET_COLUMNS, len(tiles)), padding=4, pad_value=255
    )
    Image.fromarray(grid.permute(1, 2, 0).numpy()).save(path)


def sheet_path(data: Path) -> Path:
    """The contact sheet's default place: beside DATA_DIR, so training never sees it."""
    return data.with_name(f"{data.name}_contact.png")


# ---------------------------------------------------------------------- main


def check_dirs(raw: Path, data: Path, sheet: Path) -> None:
    """Refuse a missing RAW_DIR, a DATA_DIR in it or not empty, a sheet in either."""
    if not raw.is_dir():
        raise PrepareError(f"Raw folder not found: {raw}")
    raw_r, data_r, sheet_r = raw.resolve(), data.resolve(), sheet.resolve()
    if data_r == raw_r or data_r.is_relative_to(raw_r):
        raise PrepareError(
            f"DATA_DIR {data} must not be RAW_DIR or inside it; RAW_DIR is never written to."
        )
    if sheet_r.is_relative_to(raw_r) or sheet_r.is_relative_to(data_r):
        raise PrepareError(f"The contact sheet {sheet} must be outside RAW_DIR and DATA_DIR.")
    if data.exists() and (not data.is_dir() or any(data.iterdir())):
        raise PrepareError(
            f"DATA_DIR {data} exists and is not empty; choose a new folder or "
            "delete it to prepare again."
        )


def prepare(
    raw: Path,
    data: Path,
    *,
    max_side: int = MAX_SIDE,
    threshold: int = NEAR_THRESHOLD,
    min_side: int = vimages.MIN_SIDE,
    sheet: Path | None = None,
) -> list[Entry]:
    """Scan raw, deduplicate, and write the kept images, manifest and contact sheet.

    Returns every entry (sorted by source path). Raises PrepareError for bad
    folders or when no image is usable; nothing is written then.
    """
    raw, data = Path(raw), Path(data)
    sheet = Path(sheet) if sheet is not None else sheet_path(data)
    check_dirs(raw, data, sheet)
    entries = [scan(p, p.relative_to(raw).as_posix(), min_side) for p in raw_files(raw)]
    deduplicate(entries, threshold)
    if not any(e.status == "kept" for e in entries):
        counts = ", ".join(f"{n} {s}" for s, n in status_counts(entries).items())
        raise NothingKeptError(f"No usable image in {raw} ({counts or 'no files'}).")
    output_names(entries)
    data.mkdir(parents=True, exist_ok=True)
    save_kept(raw, data, entries, max_side)
    write_manifest(data / "manifest.csv", entries)
    sheet.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet([e.thumb for e in entries if e.status == "kept" and e.thumb], sheet)
    logger.info("Prepared %s from %s; contact sheet %s", data, raw, sheet)
    return entries


def status_counts(entries: list[Entry]) -> dict[str, int]:
    """Files per status, duplicates counted together whatever they duplicate."""
    counts = Counter(e.status.split(" of ")[0] for e in entries)
    return dict(counts.most_common())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m train.prepare", description=__doc__.split("\n")[0])
    p.add_argument("raw", type=Path, help="downloaded files; only read")
    p.add_argument("data", type=Path, help="new folder for the training images")
    p.add_argument("--max-side", type=int, default=MAX_SIDE, help="long side cap in pixels")
    p.add_argument(
        "--threshold",
        type=int,
        default=NEAR_THRESHOLD,
        help="phash bits (of 64) within which images are near duplicates; -1: off",
    )
    p.add_argument(
        "--min-side",
        type=int,
        default=vimages.MIN_SIDE,
        help="drop images with a shorter side (the library's minimum at least)",
    )
    p.add_argument("--contact-sheet", type=Path, help="PNG path (default DATA_DIR_contact.png)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        if args.max_side < vimages.MIN_SIDE:
            raise PrepareError(f"--max-side must be at least {vimages.MIN_SIDE}")
        entries = prepare(
            args.raw,
            args.data,
            max_side=args.max_side,
            threshold=args.threshold,
            min_side=max(args.min_side, vimages.MIN_SIDE),
            sheet=args.contact_sheet,
        )
    except PrepareError as err:
        logger.error("%s", err)
        return 1 if isinstance(err, NothingKeptError) else 2
    counts = status_counts(entries)
    width = max(len(s) for s in counts)
    print(f"{len(entries)} files in {args.raw}:")
    for status, n in counts.items():
        print(f"  {status:<{width}}  {n}")
    print(
        f"Kept images in {args.data}, manifest {args.data / 'manifest.csv'}, contact sheet "
        f"{args.contact_sheet or sheet_path(args.data)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
