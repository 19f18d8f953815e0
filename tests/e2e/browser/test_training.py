"""Fine-tuning in the browser, end to end on a real `studio up` and its worker: a user
fills a dataset, starts a LoRA run from it, watches it on the run's page (step by step,
the loss chart growing, live from /v1/events) until it succeeds, and generates with the
trained model from "Generate with it". The base model is the tiny random-weight pipeline
the test builds into the Studio's models directory. Needs the `local` extra (`make test`
installs it)."""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from studio.providers.diffusers_local import installed
from tests.e2e.support import needs_postgres

from .harness import DESKTOP, PHONE, Studio, api_call, check_page, no_sideways_scroll, screenshot, sign_up

pytestmark = [pytest.mark.slow, needs_postgres]

if not installed():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI runs training in the browser: `make test` installs the local extra")
    pytest.skip("the local extra (torch, diffusers) is not installed", allow_module_level=True)

BASE_SLUG = "tiny-sd-local"
STEPS = 24


def _picture(color: tuple[int, int, int]) -> dict[str, Any]:
    out = io.BytesIO()
    Image.new("RGB", (96, 64), color).save(out, "PNG")
    return {"name": f"square-{color[0]}.png", "mimeType": "image/png", "buffer": out.getvalue()}


def _base_model(studio: Studio) -> None:
    from studio.dev.tiny_model import build_tiny_pipeline

    folder = studio.home / "models" / "tiny"
    if not folder.exists():
        build_tiny_pipeline(folder)
    with studio.admin_http() as client:
        listed = client.get("/v1/admin/models").json()["items"]
        if not any(m["slug"] == BASE_SLUG for m in listed):
            made = client.post("/v1/admin/models", json={
                "provider": "diffusers", "provider_model": "tiny", "type": "image", "slug": BASE_SLUG,
                "display_name": "Tiny SD (local)", "capabilities": ["image"]})
            assert made.status_code == 201, made.text


def test_a_user_trains_a_lora_watches_it_and_generates_with_it(studio: Studio, page: Any):
    _base_model(studio)
    sign_up(page, "Tess Trainer")
    # Nothing to train on yet: the page says what to do first.
    page.goto("/training")
    expect(page.get_by_text("First make a dataset and add pictures to it.")).to_be_visible()
    expect(page.get_by_text("No runs yet.")).to_be_visible()
    check_page(page, "training-empty")
    page.goto("/datasets")
    page.get_by_label("Name of the new dataset").fill("Squares")
    page.get_by_role("button", name="New dataset").click()
    page.wait_for_url("**/datasets/*")
    page.get_by_label("Choose pictures").set_input_files(files=[_picture((r, 90, 40)) for r in (40, 120, 200)])
    expect(page.get_by_test_id("dataset-summary")).to_contain_text("3 images")

    page.get_by_role("link", name="Train on it").click()
    page.wait_for_url("**/training?dataset=*")
    expect(page.get_by_role("heading", name="New training run")).to_be_visible()
    for label, value in (("Name", "Squares LoRA"), ("Trigger word", "sks"), ("Steps", str(STEPS)), ("Rank", "4"),
                         ("Learning rate", "0.001"), ("Resolution", "64"), ("Batch size", "2"),
                         ("Checkpoint every", "8")):
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url("**/training/*")
    run_id = page.url.rsplit("/", 1)[1]

    # Watched live: the step count moves through several values, the chart fills in.
    seen_steps: set[str] = set()
    status = page.get_by_test_id("run-status")
    for _ in range(600):
        seen_steps.add(page.get_by_test_id("run-step").inner_text())
        if status.inner_text() in ("succeeded", "failed", "canceled"):
            break
        page.wait_for_timeout(100)
    expect(status).to_have_text("succeeded", timeout=180_000)
    assert len(seen_steps) >= 3, seen_steps
    expect(page.get_by_test_id("run-step")).to_have_text(f"Step {STEPS} of {STEPS}")
    drawn = page.locator("svg[role=img] path.raw").get_attribute("d") or ""
    assert drawn.count("L") == STEPS - 1, drawn[:200]
    check_page(page, "training-run")
    page.set_viewport_size(PHONE)
    expect(page.locator("svg[role=img]")).to_be_visible()
    no_sideways_scroll(page)
    screenshot(page, "training-run-phone")
    page.set_viewport_size(DESKTOP)

    status_code, run = api_call(page, "GET", f"/v1/training-jobs/{run_id}")
    assert status_code == 200 and len(run["loss_history"]) == STEPS and run["trained_model_id"]

    page.get_by_role("link", name="Generate with it").click()
    page.wait_for_url("**/generate/image?model=*")
    expect(page.get_by_label("Model", exact=True)).to_have_value(run["trained_model_id"])
    page.get_by_label("Prompt", exact=True).fill("sks, a square")
    for label, value in (("Width", "64"), ("Height", "64"), ("Steps", "2"), ("Seed", "3")):
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_role("button", name="Generate").click()
    image = page.locator("main img[src^='/v1/media/']").first
    expect(image).to_be_visible(timeout=120_000)
    page.wait_for_function("(img) => img.complete && img.naturalWidth === 64", arg=image.element_handle())

    page.goto("/training")
    expect(page.get_by_role("list").get_by_text("Squares LoRA").first).to_be_visible()
    check_page(page, "training")
