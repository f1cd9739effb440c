"""The page in headless Chromium: reconstruct a poster, then morph between two."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.app_fixtures import save_small_model, serve_app, write_poster

WAIT_MS = 60_000  # the model runs beside other work on 2 cores

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("served")
    with serve_app(save_small_model(root / "model"), root / "app.log") as served:
        yield served


@pytest.fixture
def page(browser: Browser, url: str) -> Iterator[Page]:
    page = browser.new_page()
    page.goto(url)
    yield page
    page.close()


@pytest.fixture(scope="module")
def posters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("posters")
    Image.new("RGB", (12, 12), "green").save(root / "tiny.png")
    return {
        "a": write_poster(root / "a.png", 1),
        "b": write_poster(root / "b.png", 2),
        "tiny": root / "tiny.png",
    }


def upload(page: Page, box: str, path: Path) -> None:
    """Choose a file in the image input with elem_id `box`, as a user's file dialog does."""
    page.locator(f"#{box} input[type=file]").set_input_files(str(path))


def test_reconstruct_then_morph_with_the_slider(page: Page, posters: dict[str, Path]) -> None:
    # The examples show where each poster sits in the model's data.
    expect(page.get_by_text("held-out set").first).to_be_visible(timeout=WAIT_MS)

    upload(page, "recon-input", posters["a"])
    expect(page.locator("#recon-output img")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#recon-report")).to_contain_text("PSNR", timeout=WAIT_MS)

    page.get_by_role("tab", name="Interpolate").click()
    upload(page, "morph-a", posters["a"])
    upload(page, "morph-b", posters["b"])
    frame = page.locator("#morph-frame img")
    status = page.locator("#morph-status")
    expect(status).to_contain_text("50% of the way from A to B", timeout=WAIT_MS)
    before = frame.get_attribute("src")
    assert before

    page.locator("#morph-t input[type=number]").fill("0.9")
    page.locator("#morph-t input[type=number]").press("Enter")
    expect(status).to_contain_text("90% of the way from A to B", timeout=WAIT_MS)
    expect(frame).not_to_have_attribute("src", before, timeout=WAIT_MS)

    # Keys on the range input move it too.
    moved = frame.get_attribute("src")
    page.locator("#morph-t input[type=range]").press("ArrowLeft")
    expect(status).to_contain_text("89% of the way from A to B", timeout=WAIT_MS)
    expect(frame).not_to_have_attribute("src", moved, timeout=WAIT_MS)


def test_a_refused_upload_shows_its_reason(page: Page, posters: dict[str, Path]) -> None:
    upload(page, "recon-input", posters["tiny"])
    # Gradio 6 heads every error toast "Error"; the reason is the message under it.
    toast = page.locator(".toast-body")
    expect(toast).to_contain_text("The image is too small: 12x12 pixels", timeout=WAIT_MS)
    expect(toast).not_to_contain_text("Traceback")
    # The page keeps working after the refusal.
    upload(page, "recon-input", posters["a"])
    expect(page.locator("#recon-output img")).to_be_visible(timeout=WAIT_MS)


def test_an_example_says_where_it_sits_and_dreams_appear(page: Page) -> None:
    # Example clicks run the lazily cached handler, which only the page can reach.
    page.get_by_role("button", name="JOB cigarette papers").click()
    expect(page.locator("#recon-report")).to_contain_text("from the held-out set", timeout=WAIT_MS)
    expect(page.locator("#recon-output img")).to_be_visible()

    page.get_by_role("tab", name="Dream").click()
    page.get_by_role("button", name="Dream", exact=True).click()
    expect(page.locator("#dreams img")).to_have_count(8, timeout=WAIT_MS)
