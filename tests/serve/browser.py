"""Drive the page in headless Chromium (Debian's ``chromium``, through Playwright): build a
prompt from the layered fields, generate audio and video with tiny models, and check that the
audio and video elements play. Run as a script it also writes the page's screenshot:

    PYTHONPATH=. python tests/serve/browser.py --screenshot docs/media/serve.png
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from helpers import LiveServer, tiny_audio_model, tiny_video_model  # noqa: E402

INSTALL = (
    "the browser test needs Chromium and Playwright: `apt-get install chromium` (as root; "
    "`make test` does it) and `pip install playwright`."
)


def chromium_path() -> str | None:
    """Debian's chromium, or None (with Playwright missing too)."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def drive(
    url: str,
    executable: str,
    screenshot: Path | None = None,
    models: tuple[str, str] = ("tiny", "tinyv"),
) -> dict[str, object]:
    """Generate audio then video through the page with the offered ``models`` (audio, video
    names); what the page showed."""
    from playwright.sync_api import sync_playwright

    seen: dict[str, object] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.wait_for_selector(f"#model option[value={models[0]}]", state="attached")
        # audio: the layered builder composes the prompt and lints it while typing
        page.fill("#mood", "calm ambient")
        page.fill("#details", "soft piano with reverb")
        page.fill("#length", "2")
        page.wait_for_function("document.querySelector('#prompt').value.includes('2 seconds')")
        page.wait_for_selector("#lint .suggestion")
        seen["audio_prompt"] = page.input_value("#prompt")
        seen["audio_lint"] = page.inner_text("#lint")
        page.fill("#seed", "11")
        page.click("#plan-button")  # the note plan of the composed prompt, as a piano roll
        page.wait_for_selector("#plan-roll", state="visible")
        seen["plan_text"] = page.inner_text("#plan-text")
        page.select_option("#model", models[0])
        page.click("#generate")
        page.wait_for_function(
            "(q => q('#audio-player').src && !q('#result').hidden)(s => document.querySelector(s))",
            timeout=120_000,
        )
        seen["audio"] = page.evaluate(_PLAYS, "#audio-player")
        seen["spectrogram_width"] = page.evaluate(
            "new Promise(r => { const i = document.querySelector('#spectrogram');"
            " i.complete ? r(i.naturalWidth) : i.onload = () => r(i.naturalWidth); })"
        )
        # video: scene / motion / style
        page.click("#tab-video")
        page.fill("#scene", "a red ball on a grass field")
        page.fill("#motion", "bouncing")
        page.fill("#style", "in slow motion")
        page.wait_for_function("document.querySelector('#prompt').value.includes('slow motion')")
        seen["video_prompt"] = page.input_value("#prompt")
        page.click("#plan-button")  # the motion plan: object tracks and contacts
        page.wait_for_selector("#plan-roll", state="visible")
        seen["video_plan_text"] = page.inner_text("#plan-text")
        page.select_option("#model", models[1])
        page.fill("#duration", "1")
        page.click("#generate")
        page.wait_for_function(
            "(q => q('#video-player').src && !q('#video-player').hidden)"
            "(s => document.querySelector(s))",
            timeout=120_000,
        )
        seen["video"] = page.evaluate(_PLAYS, "#video-player")
        page.wait_for_selector("#history tbody tr:nth-child(2) button.again")
        seen["history_rows"] = page.locator("#history tbody tr").count()
        # "use these settings again" on the audio job brings back its prompt and seed
        page.locator("#history tbody tr:nth-child(2) button.again").click()
        seen["again"] = (page.input_value("#prompt"), page.input_value("#seed"))
        seen["again_kind"] = page.get_attribute("#tab-audio", "aria-selected")
        seen["video_shown"] = page.is_visible("#video-player")
        page.locator("#history tbody tr:nth-child(2) button.open").click()
        seen["audio_reopened"] = page.is_visible("#audio-player") and page.is_hidden(
            "#video-player"
        )
        page.fill("#details", "soft piano with reverb")  # the lint again, for the picture
        page.wait_for_selector("#lint .suggestion")
        page.click("#plan-button")
        page.wait_for_selector("#plan-roll", state="visible")
        page.wait_for_timeout(300)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        seen["errors"] = errors
        browser.close()
    return seen


# wait until the element can play, play it, and report what it holds
_PLAYS = """async (selector) => {
  const m = document.querySelector(selector);
  if (m.readyState < 2) await new Promise((ok, bad) => {
    m.addEventListener('canplay', ok, {once: true});
    m.addEventListener('error', () => bad(new Error('media error ' + (m.error && m.error.code))),
                       {once: true});
  });
  m.muted = true;
  await m.play();
  await new Promise(r => setTimeout(r, 300));
  const out = {duration: m.duration, time: m.currentTime, src: m.currentSrc,
               paused: m.paused, error: m.error ? m.error.code : null};
  if (m.videoWidth !== undefined) { out.width = m.videoWidth; out.height = m.videoHeight; }
  m.pause();
  return out;
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--screenshot", type=Path, default=Path("docs/media/serve.png"))
    parser.add_argument(
        "--shipped", action="store_true", help="the shipped models (default: tiny random ones)"
    )
    args = parser.parse_args()
    executable = chromium_path()
    if executable is None:
        sys.exit(INSTALL)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        names = ("default", "default") if args.shipped else ("tiny", "tinyv")
        models = [] if args.shipped else [
            f"tiny={tiny_audio_model(root / 'a')}", f"tinyv={tiny_video_model(root / 'v')}"
        ]  # fmt: skip
        with LiveServer(root / "results", models) as server:
            seen = drive(server.url + "/", executable, args.screenshot, names)
    print(seen)


if __name__ == "__main__":
    main()
