"""The control page in a real browser: Debian's chromium, headless, driven by selenium, against
``caminos play --web`` on the tests' own JACK dummy server (as tests/test_live_jack.py runs it).

One ``caminos play`` serves every test of this module, bound off loopback (``0.0.0.0``) with a
known token, so the token's refusals are tested on the same server, and with four output
channels (JACK's dummy driver with four playback ports), so the page shows a quad layout's field
of four voices; the browser loads the page at a phone's width (375 px). Values the page changes
are read back over OSC with ``/engine/get``; values changed over OSC are looked for on the page.
Skipped, with the reason, where chromium, chromedriver or jackd are not installed
(scripts/setup.sh --test installs them).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from caminos.engine.dsp.spectrum_tap import FRAMES_PER_SECOND
from tests.waiting import timed_out, until_answered
from tests.test_live_jack import SERVER_NAME, Client, JackServer, Play, _free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
TOKEN = "test-token-0123"
WIDTH = 375  # a phone's screen, in CSS pixels
CHANNELS = 4  # output channels: a voice each, on the quad layout
QUARTER = 0.25  # one latent std on the map (it spans -2 .. +2 std on the axes plane)

# As tests/test_live_jack.py: in CI (which runs scripts/setup.sh --test) a missing program fails
# the tests instead of skipping them.
pytestmark = [
    pytest.mark.skipif(
        shutil.which("jackd") is None and not os.environ.get("CI"),
        reason="jackd not installed (scripts/setup.sh --test installs it)",
    ),
    pytest.mark.skipif(
        (CHROMIUM is None or CHROMEDRIVER is None) and not os.environ.get("CI"),
        reason="chromium and chromium-driver not installed (scripts/setup.sh --test installs them)",
    ),
]
webdriver = pytest.importorskip(
    "selenium.webdriver", reason="selenium not installed (pip install -e '.[test]')"
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory):
    """The JACK server, ``caminos play --web`` and an OSC client, for the whole module."""
    tmp = tmp_path_factory.mktemp("web")
    saved = {k: os.environ.get(k) for k in ("JACK_DEFAULT_SERVER", "JACK_NO_AUDIO_RESERVATION")}
    os.environ.update(JACK_DEFAULT_SERVER=SERVER_NAME, JACK_NO_AUDIO_RESERVATION="1")
    server = JackServer(tmp / "jackd.log", playback=CHANNELS)
    osc_port, web_port = _free_port(), _free_port()
    play = Play(
        tmp,
        600,
        "--web",
        "--set",
        f"osc.port={osc_port}",
        "--set",
        'web.host="0.0.0.0"',
        "--set",
        f"web.port={web_port}",
        "--set",
        f'web.token="{TOKEN}"',
        "--set",
        f"audio.channels={CHANNELS}",
    )
    client = None
    try:
        play.wait_playing()
        client = Client(osc_port)
        yield {"play": play, "osc": client, "port": web_port, "tmp": tmp}
    finally:
        if client is not None:
            client.close()
        if play.process.poll() is None:
            play.process.terminate()  # our own process, by its handle
            try:
                play.process.wait(timeout=60)
            except Exception:
                play.process.kill()
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def browser(live):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={WIDTH},900",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    _phone(driver)
    try:
        yield driver
    finally:
        driver.quit()


def _phone(driver) -> None:
    """Lay pages out as a phone's browser does: 375 CSS pixels wide, touch (headless chromium's
    window is at least 500 pixels wide, so the window size alone cannot say it)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": 812, "deviceScaleFactor": 1, "mobile": True},
    )


def _url(live, path: str = "/", token: str | None = TOKEN) -> str:
    query = f"?token={token}" if token is not None else ""
    return f"http://127.0.0.1:{live['port']}{path}{query}"


# Resolves with the value of a JavaScript expression once it is true, checking it again each time
# the page dispatches the event named (the control page's "caminos:changed" comes after every
# message it takes in), or with null at the deadline.
_PAGE_WAIT = """
const [expression, eventName, timeoutMs, done] = arguments;
const test = new Function("return (" + expression + ");");
let timer = null;
const check = () => {
  let value = null;
  try { value = test(); } catch (error) { value = null; }
  if (!value) return false;
  document.removeEventListener(eventName, check);
  clearTimeout(timer);
  done(value);
  return true;
};
if (!check()) {
  document.addEventListener(eventName, check);
  timer = setTimeout(() => { document.removeEventListener(eventName, check); done(null); },
                     timeoutMs);
}
"""


def _page_wait(
    browser, expression: str, timeout: float, event: str = "caminos:changed"
) -> object | None:
    """The value of the JavaScript ``expression`` on the page once it is true, checked again at
    each ``event`` the page dispatches; None after ``timeout`` seconds."""
    browser.set_script_timeout(timeout + 10)
    return browser.execute_async_script(_PAGE_WAIT, expression, event, round(1000 * timeout))


def _page_until(
    browser,
    expression: str,
    timeout: float,
    what: str,
    event: str = "caminos:changed",
    show: str = "",
) -> object:
    """:func:`_page_wait`, failing the test, naming ``what`` (and the value of the JavaScript
    ``show`` then, where given), after ``timeout`` seconds."""
    value = _page_wait(browser, expression, timeout, event)
    if not value:
        seen = f"the page: {browser.execute_script(f'return {show}')!r}" if show else ""
        timed_out(what, timeout, seen)
    return value


def _spectrum_frames(browser, frames: int, what: str) -> None:
    """Wait until the page has received ``frames`` spectrum frames since it loaded (its trail
    keeps the map position of each, up to three seconds' worth)."""
    _page_until(browser, f"state.trail.length >= {frames}", 30, what)


def _get(live, address: str) -> list:
    live["osc"].send("/engine/get", address)
    reply = live["osc"].reply("/engine/get")
    assert reply[0] == address
    return reply[1:]


def _open_page(live, browser) -> None:
    browser.get(_url(live))
    _page_until(
        browser,
        "document.querySelector('#connection').className === 'on' && "
        "document.querySelectorAll('#scenes button').length === 16",
        20,
        "the page to connect",
    )


def test_the_page_loads_fits_a_phone_and_shows_the_map(live, browser) -> None:
    assert any(f"?token={TOKEN}" in line for line in live["play"].lines), live["play"].lines
    assert sum("\u2588" in line for line in live["play"].lines) >= 10  # the QR code
    # The sources' latent held (it still sounds), so the voices' dots stay where the page's
    # state says while the map is captured
    live["osc"].send("/latent/freeze", 1)
    until_answered(lambda: _get(live, "/latent/freeze") == [1], 5, "/latent/freeze 1")
    try:
        _check_the_page_and_the_map(live, browser)
    finally:
        live["osc"].send("/latent/freeze", 0)


def _check_the_page_and_the_map(live, browser) -> None:
    from PIL import Image

    _open_page(live, browser)
    # nothing wider than the phone's screen
    assert browser.execute_script("return document.documentElement.scrollWidth") <= WIDTH
    # a second and a half of spectrum frames: the trail and the spectrogram fill
    _spectrum_frames(browser, round(1.5 * FRAMES_PER_SECOND), "the trail and the spectrogram")
    canvas = browser.find_element("css selector", "#map")
    shot = Image.open(io.BytesIO(canvas.screenshot_as_png)).convert("RGB")
    pixels = np.asarray(shot, dtype=np.int16)
    assert shot.width >= WIDTH - 60 and shot.height >= WIDTH - 60
    # not blank: grid, the position's dot (accent blue) and its ring (white) are drawn
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20
    blue = (pixels[..., 2] > 200) & (pixels[..., 1] > 150) & (pixels[..., 0] < 120)
    assert blue.sum() > 30, "no position dot on the map"
    # the four voices of the quad layout, each in its colour: the first one's is pink
    assert (
        browser.execute_script("return state.layout.name + ' ' + state.field.voices.length")
        == f"quad {CHANNELS}"
    )
    # Each voice's dot where the page's state puts it, in a saturated colour over the grey map
    # (the voices' places depend on where the playing sound's latent lies: some may be off the
    # map, and two voices following the same channel of the file may share a dot)
    voices = browser.execute_script("return state.field.voices")
    shot = Image.open(io.BytesIO(canvas.screenshot_as_png)).convert("RGB")
    pixels = np.asarray(shot, dtype=np.int16)
    assert browser.execute_script("return state.field.voices") == voices  # held still
    drawn = 0
    for x, y in voices:
        col, row = round(x * shot.width), round((1.0 - y) * shot.height)
        if not (3 <= col < shot.width - 3 and 3 <= row < shot.height - 3):
            continue
        patch = pixels[row - 2 : row + 3, col - 2 : col + 3]
        assert (patch.max(axis=-1) - patch.min(axis=-1)).max() > 80, (x, y, "no voice dot")
        drawn += 1
    assert drawn >= 1, voices
    page = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("L")
    assert np.asarray(page).std() > 10, "the page's screenshot is blank"
    spectrogram = browser.find_element("css selector", "#spectrogram")
    columns = np.asarray(Image.open(io.BytesIO(spectrogram.screenshot_as_png)).convert("L"))
    assert columns[:, -columns.shape[1] // 4 :].std() > 3, "the spectrogram draws nothing"


def test_the_position_off_the_map_waits_at_its_edge(live, browser) -> None:
    """Drawn from one position on the map and one past its right edge, in one script (no
    message can redraw in between): past the edge, the position's blue ring is at the edge
    and its disc is gone from the middle."""
    _open_page(live, browser)
    (edge_off, rest_off), (edge_on, rest_on) = browser.execute_script(
        """
        const canvas = document.querySelector('#map');
        const blue = (trail) => {
          state.trail = trail;
          drawMap();
          const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          let edge = 0, rest = 0;
          for (let i = 0; i < d.length; i += 4) {
            if (!(d[i + 2] > 200 && d[i + 1] > 150 && d[i] < 120)) continue;
            if ((i / 4) % canvas.width >= canvas.width - 20) edge++; else rest++;
          }
          return [edge, rest];
        };
        const saved = state.trail;
        const counts = [blue([[1.6, 0.5]]), blue([[0.5, 0.5]])];
        state.trail = saved;
        drawMap();
        return counts;
        """
    )
    assert edge_off - edge_on > 30, (edge_off, edge_on)  # the ring, at the right edge
    assert rest_on - rest_off > 100, (rest_on, rest_off)  # the disc, in the middle only


def test_a_drag_on_the_map_moves_the_engine(live, browser) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    _open_page(live, browser)
    canvas = browser.find_element("css selector", "#map")
    width, height = canvas.size["width"], canvas.size["height"]
    # from the centre to three quarters right and three quarters up, in steps, as a finger
    step_x, step_y = width // 40, height // 40
    expected = (0.5 + 10 * step_x / width, 0.5 + 10 * step_y / height)
    actions = ActionChains(browser)
    actions.move_to_element(canvas).click_and_hold()
    for _ in range(10):
        actions.move_by_offset(step_x, -step_y)
    actions.pause(0.2).release().perform()
    x, y = until_answered(
        lambda: (lambda v: v if abs(v[0] - expected[0]) < 0.03 else None)(_get(live, "/latent/xy")),
        5,
        "/latent/xy to follow the drag",
    )
    assert (x, y) == pytest.approx(expected, abs=0.03)


def test_a_gesture_drawn_on_the_map_becomes_a_path_that_plays(live, browser) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import Select

    _open_page(live, browser)
    browser.find_element("css selector", "input[name=map-mode][value=draw]").click()
    name = browser.find_element("css selector", "#gesture-name")
    name.clear()
    name.send_keys("stroke")
    canvas = browser.find_element("css selector", "#map")
    step = canvas.size["width"] // 30
    actions = ActionChains(browser)
    actions.move_to_element(canvas).click_and_hold()
    for i in range(12):
        actions.move_by_offset(step if i < 6 else -step, -step).pause(0.05)
    actions.release().perform()
    browser.find_element("css selector", "input[name=map-mode][value=move]").click()
    button = "#paths button[data-path='stroke']"
    _page_until(browser, f'document.querySelector("{button}")', 5, "the drawn path's button")
    Select(browser.find_element("css selector", "[data-address='/path/loop']")).select_by_value("1")
    until_answered(lambda: _get(live, "/path/loop") == [1], 5, "the loop mode from the page")
    browser.find_element("css selector", button).click()
    until_answered(lambda: live["osc"].status()["path_playing"] == 1, 5, "the path to play")
    _page_until(
        browser,
        f"document.querySelector(\"{button}\").classList.contains('playing')",
        5,
        "the page to show it playing",
    )
    browser.find_element("css selector", "#path-stop").click()
    until_answered(lambda: live["osc"].status()["path_playing"] == 0, 5, "the path to stop")
    live["osc"].send("/path/loop", 0)


def test_a_change_over_osc_shows_on_the_page(live, browser) -> None:
    _open_page(live, browser)
    live["osc"].send("/latent/noise", 0.7)
    live["osc"].send("/source/file/speed", -1.5)
    value = "document.querySelector('[data-address=\"%s\"]').value"
    started = time.monotonic()
    _page_until(browser, f"{value % '/latent/noise'} === '0.7'", 5, "the noise")
    _page_until(browser, f"{value % '/source/file/speed'} === '-1.5'", 5, "the speed")
    print(f"OSC to page: {1000 * (time.monotonic() - started):.0f} ms")
    live["osc"].send("/latent/noise", 0.0)
    live["osc"].send("/source/file/speed", 1.0)


def test_the_pitches_and_chord_rows_send_their_values(live, browser) -> None:
    from selenium.webdriver.common.keys import Keys

    _open_page(live, browser)
    # the shipped model has three pitch slots: both rows show, the slider's range is the model's
    hidden = "return document.querySelector('%s').hidden"
    assert browser.execute_script(hidden % "#chord-row") is False
    assert browser.execute_script(hidden % "#pitches-row") is False
    slider = "document.querySelector('[data-address=\"/latent/pitches\"]')"
    assert browser.execute_script(f"return {slider}.max") == "3"
    browser.execute_script(
        f"const el = {slider}; el.value = 2; el.dispatchEvent(new Event('input'));"
    )
    until_answered(lambda: _get(live, "/latent/pitches") == [2], 5, "/latent/pitches from the page")
    live["osc"].send("/latent/pitches", 3)
    chord = browser.find_element("css selector", "#chord")
    chord.clear()
    chord.send_keys("4 7", Keys.ENTER)
    until_answered(lambda: _get(live, "/latent/chord") == [4.0, 7.0], 5, "/latent/chord 4 7")
    browser.find_element("css selector", "#chord-row button[data-chord='3 7']").click()
    until_answered(lambda: _get(live, "/latent/chord") == [3.0, 7.0], 5, "the minor chord")
    # a chord sent over OSC shows in the row's field
    live["osc"].send("/latent/chord", 12.0)
    _page_until(browser, "document.querySelector('#chord').value === '12'", 5, "the chord")
    browser.find_element("css selector", "#chord-row button[data-chord='0']").click()
    until_answered(lambda: _get(live, "/latent/chord") == [0.0], 5, "no chord from the page")


def test_the_field_s_sliders_move_the_voices_on_the_map(live, browser) -> None:
    _open_page(live, browser)
    assert browser.execute_script("return document.querySelector('#field-section').hidden") is False
    layout = browser.execute_script("return document.querySelector('#layout').textContent")
    assert layout.startswith(f"quad · {CHANNELS} voices"), layout
    # a slider moved on the page (its own input handler) reaches the engine
    browser.execute_script("""const el = document.querySelector('[data-address="/field/spread"]');
        el.value = 1.5; el.dispatchEvent(new Event('input'));""")
    until_answered(lambda: _get(live, "/field/spread") == [pytest.approx(1.5)], 5, "the spread")
    # a rotation sent over OSC moves the page's slider, and the speakers' places on its map:
    # the front-left speaker (45 degrees) turned 45 more is straight above the centre
    live["osc"].send("/field/rotate", 45.0)
    rotate = "document.querySelector('[data-address=\"/field/rotate\"]').value"
    _page_until(browser, f"{rotate} === '45'", 5, "the rotate slider")
    front_left_above = (
        "((c, ring) => ring.length === %d && Math.abs(ring[0][0] - c[0]) < 0.01 && "
        "Math.abs(ring[0][1] - c[1] - %r) < 0.01)(state.field.centre, state.field.ring || [])"
    ) % (CHANNELS, 1.5 * QUARTER)
    _page_until(
        browser,
        front_left_above,
        10,
        "the front-left speaker's place above the centre",
        show="[state.field.centre, state.field.ring, state.values['/field/spread'], "
        "state.values['/field/rotate'], state.values['/field/spin']]",
    )
    centre, ring = browser.execute_script("return [state.field.centre, state.field.ring]")
    assert np.allclose(ring[0], [centre[0], centre[1] + 1.5 * QUARTER], atol=0.01)
    live["osc"].send("/field/spread", 0.5)
    live["osc"].send("/field/rotate", 0.0)


def _has_class(selector: str, name: str) -> str:
    """A JavaScript expression: whether the element ``selector`` finds has class ``name``."""
    return f"document.querySelector({json.dumps(selector)}).classList.contains({json.dumps(name)})"


def _armed(live) -> str:
    """The address MIDI learning waits for ("" for none), over OSC."""
    live["osc"].send("/midi/list")
    return live["osc"].reply("/midi/list/done")[1]


def test_a_slider_s_midi_button_arms_learning_and_stops_it(live, browser) -> None:
    _open_page(live, browser)
    selector = "button.learn[data-learn='%s']"
    noise = browser.find_element("css selector", selector % '["/latent/noise"]')
    axis = browser.find_element("css selector", selector % '["/latent/axis",2]')
    assert noise.is_displayed() and noise.size["width"] < WIDTH / 4  # beside the slider
    noise.click()
    noise_armed = _has_class(selector % '["/latent/noise"]', "armed")
    axis_armed = _has_class(selector % '["/latent/axis",2]', "armed")
    until_answered(lambda: _armed(live) == "/latent/noise", 5, "learning armed for the noise")
    _page_until(browser, noise_armed, 5, "the button to show it is armed")
    browser.execute_script("arguments[0].scrollIntoView()", axis)
    axis.click()  # another slider: learning waits for that one instead
    until_answered(lambda: _armed(live) == "/latent/axis", 5, "learning armed for axis 2")
    _page_until(browser, f"!{noise_armed}", 5, "the first to disarm")
    axis.click()  # pressed again: learning stops
    until_answered(lambda: _armed(live) == "", 5, "learning stopped")
    _page_until(browser, f"!{axis_armed}", 5, "the button to show it")


def test_a_scene_pad_stores_and_recalls(live, browser) -> None:
    _open_page(live, browser)
    live["osc"].send("/out/gain", -9.0)
    until_answered(lambda: _get(live, "/out/gain")[0] == pytest.approx(-9.0), 5, "the gain")
    browser.find_element("css selector", "#scene-store").click()
    browser.find_element("css selector", "#scenes button[data-scene='5']").click()
    stored = _has_class("#scenes button[data-scene='5']", "stored")
    _page_until(browser, stored, 5, "pad 5 to show it holds a scene")
    browser.find_element("css selector", "#scene-store").click()  # back to recalling
    live["osc"].send("/out/gain", 0.0)
    until_answered(lambda: _get(live, "/out/gain")[0] == pytest.approx(0.0), 5, "the gain at 0")
    fade = browser.find_element("css selector", "#scene-fade")
    fade.clear()
    fade.send_keys("0")
    browser.find_element("css selector", "#scenes button[data-scene='5']").click()
    until_answered(lambda: _get(live, "/out/gain")[0] == pytest.approx(-9.0), 5, "the scene's gain")
    live["osc"].send("/out/gain", 0.0)


def test_the_meters_show_the_engine_s_real_xrun_count(live, browser) -> None:
    _open_page(live, browser)
    # Make the counts real: the DSP process (our caminos play's child, by its pid) stopped
    # leaves the device without hops, which the audio process counts as underruns; three of
    # them make the overload watch step the phase recovery down.
    status = live["osc"].status()
    pid = int(status["dsp_pid"])
    os.kill(pid, signal.SIGSTOP)
    try:  # stopped until the audio process has counted the hops it did not get
        until_answered(
            lambda: live["osc"].status()["underruns"] >= status["underruns"] + 3,
            5,
            "three underruns while the DSP process is stopped",
        )
    finally:
        os.kill(pid, signal.SIGCONT)
    # (on a busy machine it may have stepped down before, and still be down: at least once)
    until_answered(
        lambda: live["osc"].status()["phase_fallbacks"] >= 1,
        5,
        "the overload watch to step the phase recovery down",
    )

    def shows_the_status() -> bool:
        """Whether the page comes to show the counts of a status asked now (a count that moves
        on meanwhile asks again)."""
        status = live["osc"].status()
        expression = (
            "document.querySelector('#m-xruns').textContent === '%d' && "
            "document.querySelector('#m-underruns').textContent === '%d' && "
            "document.querySelector('#m-fallbacks').textContent === '%d'"
        ) % (status["xruns"], status["underruns"], status["phase_fallbacks"])
        return _page_wait(browser, expression, 2.0)

    until_answered(shows_the_status, 10, "the page's counts to equal /engine/status's")
    uptime = browser.execute_script("return document.querySelector('#m-uptime').textContent")
    assert uptime.count(":") == 2 and uptime != "0:00:00", uptime
    assert "ms" in browser.execute_script("return document.querySelector('#m-cpu').textContent")


def test_without_the_right_token_the_page_is_403_and_nothing_changes(live, browser) -> None:
    before = _get(live, "/latent/follow")
    browser.delete_all_cookies()
    for url in (
        _url(live, token=None),
        _url(live, token="wrong"),
        _url(live, "/ws", token="wrong"),
    ):
        browser.get(url)
        body = browser.find_element("css selector", "body").text
        assert body.startswith("403 Forbidden"), (url, body)
    assert _get(live, "/latent/follow") == before


_ATTACK = """<!doctype html><title>another site</title><script>
window.result = "pending";
const socket = new WebSocket("ws://127.0.0.1:%d/ws?token=%s");
socket.onopen = () => { socket.send(JSON.stringify({address: "/latent/follow", args: [0.123]}));
                        window.result = "open"; document.dispatchEvent(new Event("outcome")); };
socket.onclose = (event) => { if (window.result === "pending") window.result = "refused";
                              document.dispatchEvent(new Event("outcome")); };
</script>"""


def test_a_page_of_another_site_cannot_drive_the_engine(live, browser) -> None:
    """Cross-site WebSocket hijacking: a page served from another origin, even one that knows
    the token, is refused at the handshake (its Origin is not the page's own)."""
    page = (_ATTACK % (live["port"], TOKEN)).encode()

    class Attack(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args) -> None:
            pass

    other = ThreadingHTTPServer(("127.0.0.1", 0), Attack)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        before = _get(live, "/latent/follow")
        browser.get(f"http://localhost:{other.server_address[1]}/")
        result = _page_until(
            browser,
            "window.result !== 'pending' && window.result",
            10,
            "the handshake's outcome",
            event="outcome",
        )
        assert result == "refused"
        assert _get(live, "/latent/follow") == before
    finally:
        other.shutdown()
        other.server_close()


def test_screenshot_for_the_readme(live, browser) -> None:
    """A screenshot of the page at a laptop's width, kept with the test's files (and written to
    ``$CAMINOS_WEB_SCREENSHOT`` when set: how docs/images/web.png is made)."""
    from PIL import Image

    live["osc"].send("/landmark/point", "bright", 1.2, 0.6)
    live["osc"].send("/landmark/point", "dark", -1.0, -0.8)
    live["osc"].send("/landmark/point", "middle", -0.4, 1.0)
    live["osc"].send("/path/new", "walk")
    for x, y in ((0.0, 0.0), (1.0, 0.5), (-0.5, 1.0), (-1.0, -0.5)):
        live["osc"].send("/path/point", "walk", x, y)
    live["osc"].send("/scene/store", 0)
    # the field's centre near the middle of the map, following the file a little; its four
    # voices well apart, each wandering a bit
    follow = _get(live, "/latent/follow")[0]
    live["osc"].send("/latent/xy", 0.5, 0.45)
    live["osc"].send("/latent/follow", 0.25)
    live["osc"].send("/field/spread", 1.2)
    live["osc"].send("/field/rotate", 20.0)
    live["osc"].send("/field/wander", 0.15)
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        _open_page(live, browser)
        # what the screenshot shows: the landmarks, the path, the stored scene, a full trail
        _page_until(
            browser,
            "((names) => ['bright', 'dark', 'middle'].every((n) => names.includes(n)))"
            "(state.landmarks.map((l) => l[0])) && "
            "state.paths.some((p) => p[0] === 'walk') && state.scenes.includes(0)",
            10,
            "the landmarks, the path and the scene on the page",
        )
        _spectrum_frames(browser, 3 * round(FRAMES_PER_SECOND), "a full trail on the map")
        png = browser.get_screenshot_as_png()
    finally:
        _phone(browser)
        live["osc"].send("/latent/follow", follow)
        live["osc"].send("/field/spread", 0.5)
        live["osc"].send("/field/rotate", 0.0)
        live["osc"].send("/field/wander", 0.0)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image = image.resize((image.width * 3 // 4, image.height * 3 // 4), Image.LANCZOS)
    image = image.quantize(colors=64, method=Image.Quantize.FASTOCTREE)  # keeps the voices' hues
    path = Path(live["tmp"]) / "web.png"
    image.save(path, optimize=True)
    assert path.stat().st_size > 10_000
    target = os.environ.get("CAMINOS_WEB_SCREENSHOT")
    if target:
        shutil.copyfile(path, target)
