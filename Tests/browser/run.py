#!/usr/bin/env python3
"""The web page in a real browser: headless Chromium (Debian's `chromium` + `chromium-driver`)
driven through WebDriver (Python `selenium`) against a real lightly-server process holding a
dataset made by the real `lightly` client.

    python3 Tests/browser/run.py --server-binary .build/debug/lightly-server [--screenshots docs/ui]

Steps: sign in with a token typed into the form (a wrong one is refused); create a dataset and
delete it (cancel, then confirm); see the dataset; the hostile file name renders as text (no
alert, no <img src=x>); the map draws every point; a selection the server refuses shows the
server's message; run a CORESET selection of 10 from the page and land on the new tag with 10
samples; download the file-names export and find 10 lines; the jobs page lists the selections
(the failed one with its error); at 390 px wide nothing scrolls sideways; sign out clears the
token. Throughout: no Content-Security-Policy violation in the console, the token in no page
URL and in no server log line; every control of the pages visited has a label, and Tab shows a
visible focus. Then the page over TLS: sign in and create a dataset over https.

Venvs (created on first use, under .build/): `.build/browser/venvs/selenium` (selenium) and the
conformance suite's `lightly` 1.5.26 venv (torch stubbed). The first runs this script again
inside itself. Closing line: `browser: ok (N s)` or a traceback and exit status 1.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CONFORMANCE = os.path.join(REPO, "Tests", "conformance")
sys.path.insert(0, CONFORMANCE)

from lightly_harness import ServerProcess  # noqa: E402
import tls_certs  # noqa: E402


def _load_conformance_runner():
    """Tests/conformance/run.py as a module (its venv helpers: ensure_venv, venv_python)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("conformance_run", os.path.join(CONFORMANCE, "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


conformance = _load_conformance_runner()

SELENIUM = [["selenium==4.27.1"]]
CLIENT_VERSION = "1.5.26"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def log(msg: str) -> None:
    print(f"browser: {msg}", flush=True)


def setup(python: str) -> tuple[str, str]:
    """(selenium venv, lightly venv), created if missing."""
    sel = conformance.ensure_venv("selenium", os.path.join(REPO, ".build", "browser", "venvs"), python, steps=SELENIUM)
    client = conformance.ensure_venv(CLIENT_VERSION, os.path.join(REPO, ".build", "conformance", "venvs"), python)
    return sel, client


def seed(server: ServerProcess, token: str, client_venv: str, workdir: str, samples: int) -> dict:
    """The dataset, made by the real client (Tests/browser/seed_ui.py)."""
    env = server.client_env(token)
    env.update({
        "CONFORMANCE_TOKEN": token, "CONFORMANCE_TOKEN2": token, "CONFORMANCE_WORKDIR": workdir,
        "CONFORMANCE_VERSION": CLIENT_VERSION, "UI_SAMPLES": str(samples),
        "PYTHONPATH": os.pathsep.join([CONFORMANCE, os.path.join(CONFORMANCE, "scenarios")]),
        "PYTHONUNBUFFERED": "1", "LIGHTLY_DID_VERSION_CHECK": "True",
    })
    res = subprocess.run([conformance.venv_python(client_venv), os.path.join(HERE, "seed_ui.py")], env=env, cwd=workdir,
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        raise AssertionError(f"seeding with the real client failed:\n{res.stdout}\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def make_driver(download_dir: str, width=1280, height=800, extra_args=()):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}", "--force-device-scale-factor=1", "--hide-scrollbars",
                "--no-first-run", "--disable-extensions", "--disable-background-networking", *extra_args]:
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"download.default_directory": download_dir,
                                           "download.prompt_for_download": False})
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(30)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": download_dir})
    # The viewport itself is 1280x800 (the window size includes no chrome in headless mode).
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
    return driver


class Page:
    """Small helpers over the driver."""

    def __init__(self, driver, base: str, token: str, shots: str | None):
        self.d, self.base, self.token, self.shots = driver, base, token, shots
        self.urls: list[str] = []

    def wait(self, fn, what: str, timeout: float = 20):
        from selenium.common.exceptions import WebDriverException

        end = time.monotonic() + timeout
        last = None
        while time.monotonic() < end:
            try:
                v = fn()
                if v:
                    return v
            except WebDriverException as e:  # element not there yet, stale, …
                last = e
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}" + (f" ({last.__class__.__name__})" if last else ""))

    def css(self, sel):
        from selenium.webdriver.common.by import By

        return self.d.find_element(By.CSS_SELECTOR, sel)

    def all(self, sel):
        from selenium.webdriver.common.by import By

        return self.d.find_elements(By.CSS_SELECTOR, sel)

    def go(self, hash_):
        self.d.execute_script("location.hash = arguments[0]", hash_)
        self.seen()

    def seen(self):
        url = self.d.current_url
        self.urls.append(url)
        assert self.token not in url, "the token is in a page URL"

    def shot(self, name):
        if self.shots:
            time.sleep(0.2)  # let images decode
            path = os.path.join(self.shots, name + ".png")
            self.d.save_screenshot(path)
            log(f"screenshot {os.path.relpath(path, REPO)}")

    def no_alert(self):
        from selenium.common.exceptions import NoAlertPresentException

        try:
            text = self.d.switch_to.alert.text
        except NoAlertPresentException:
            return
        raise AssertionError(f"an alert opened: {text!r}")

    def labelled(self, where: str):
        """Every form control on the page has a label (or an aria-label)."""
        missing = self.d.execute_script(
            "return [...document.querySelectorAll('input, select, textarea, button, canvas[tabindex]')]"
            ".filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())"
            ".map(e => e.outerHTML.slice(0, 80))")
        assert not missing, f"{where}: controls without a label: {missing}"

    def tab_focus_is_visible(self, where: str):
        """Tab moves the focus, and the focused element shows an outline."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        ActionChains(self.d).send_keys(Keys.TAB).perform()
        style = self.d.execute_script(
            "const e = document.activeElement; const s = getComputedStyle(e);"
            "return e === document.body ? null : [e.tagName, s.outlineStyle, s.outlineWidth]")
        assert style and style[1] != "none" and style[2] != "0px", f"{where}: no visible focus after Tab: {style}"

    def csp_violations(self):
        return [e["message"] for e in self.d.get_log("browser") if "Content Security Policy" in e["message"]
                or "Refused to" in e["message"]]


def drive(base: str, token: str, info: dict, shots: str | None, workdir: str, friend: str | None = None) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    downloads = os.path.join(workdir, "downloads")
    os.makedirs(downloads, exist_ok=True)
    driver = make_driver(downloads)
    p = Page(driver, base, token, shots)
    try:
        t0 = time.monotonic()
        driver.get(base + "/")
        p.seen()
        field = p.wait(lambda: p.css("#token"), "the sign-in form")
        assert driver.switch_to.active_element == field, "the token field has the focus"
        p.shot("signin")
        # A wrong token is refused with the reason shown.
        field.send_keys("lt_wrong" + Keys.ENTER)
        p.wait(lambda: "not known" in p.css("#signin-error").text, "the refusal of a wrong token")
        field = p.css("#token")
        field.clear()
        field.send_keys(token + Keys.ENTER)  # keyboard only
        link = p.wait(lambda: [a for a in p.all("a.dataset-link") if a.text == "ui-demo"], "the dataset in the list")[0]
        assert driver.execute_script("return sessionStorage.getItem('lightly.token')") == token
        assert driver.execute_script("return localStorage.length") == 0, "nothing in localStorage"
        row = link.find_element("xpath", "./ancestor::tr")
        assert str(info["n"]) in row.text, f"the dataset row shows {info['n']} samples: {row.text!r}"
        log(f"signed in, dataset listed ({time.monotonic() - t0:.1f} s)")
        p.labelled("datasets")
        p.tab_focus_is_visible("datasets")
        p.shot("datasets")

        # Create a dataset from the page, then delete it: cancelling the confirmation keeps it.
        p.css("#new-dataset").send_keys("scratch" + Keys.ENTER)
        p.wait(lambda: p.css("#dataset-name").text == "scratch", "the new dataset's page")
        p.go("#/")

        def delete_button():
            rows = [r for r in p.all("#datasets tbody tr") if r.find_element("css selector", "a").text == "scratch"]
            return rows[0].find_element("css selector", "button") if rows else None

        p.wait(delete_button, "the new dataset in the list").click()
        p.wait(lambda: p.css("#confirm").get_attribute("open") is not None, "the confirmation dialog")
        p.css("#confirm-cancel").click()
        time.sleep(0.3)
        assert delete_button() is not None, "cancel keeps the dataset"
        delete_button().click()
        p.wait(lambda: p.css("#confirm").get_attribute("open") is not None, "the confirmation dialog")
        p.shot("delete-confirmation")
        p.css("#confirm-ok").click()
        p.wait(lambda: delete_button() is None and p.all("a.dataset-link"), "the dataset to disappear")
        log("created and deleted a dataset from the page (with confirmation)")
        link = p.wait(lambda: [a for a in p.all("a.dataset-link") if a.text == "ui-demo"], "the dataset in the list")[0]

        link.click()
        p.seen()
        p.wait(lambda: len(p.all("#samples li")) == min(info["n"], 48), "the samples grid")
        hostile = [e for e in p.all("#samples .thumb") if e.get_attribute("data-file-name") == info["hostile"]]
        assert hostile, "the hostile file name is on the first page"
        assert hostile[0].find_element("css selector", ".fname").text == info["hostile"], "rendered as text"
        assert driver.execute_script("return document.querySelectorAll('img[src=\"x\"]').length") == 0
        p.no_alert()
        # Thumbnails come from signed URLs without the token, and they load.
        srcs = [i.get_attribute("src") for i in p.all("#samples img")]
        assert srcs and all("/signed/sample/" in s and "sig=" in s and token not in s for s in srcs), srcs[:2]
        p.wait(lambda: driver.execute_script(
            "return [...document.querySelectorAll('#samples img')].slice(0, 8).every(i => i.complete && i.naturalWidth > 0)"),
            "thumbnails to load")
        tree = [e.get_attribute("data-tag-name") for e in p.all(".tags a.tag")]
        assert tree == ["initial-tag"], tree
        p.labelled("dataset")
        log("dataset page, grid and hostile name as text")
        p.shot("dataset")

        # The sample detail of the hostile one.
        hostile[0].click()
        p.seen()
        title = p.wait(lambda: p.css("#sample-name"), "the sample page")
        assert title.text == info["hostile"]
        p.wait(lambda: driver.execute_script("const i = document.querySelector('.sample-image img'); return i && i.complete && i.naturalWidth > 0"),
               "the full image")
        p.no_alert()
        p.shot("sample")
        driver.back()

        # The map draws every point.
        p.wait(lambda: p.css("#tab-map"), "the tabs").click()
        canvas = p.wait(lambda: p.css("#map"), "the map")
        p.wait(lambda: canvas.get_attribute("data-drawn-points") == str(info["n"]),
               f"the map to draw {info['n']} points (drew {canvas.get_attribute('data-drawn-points')})")
        canvas.send_keys("+")  # keyboard zoom
        p.wait(lambda: int(canvas.get_attribute("data-frames") or 0) >= 2, "a redraw after zooming")
        canvas.send_keys("0")
        # Hover from the keyboard: the first point shows its file name and image.
        canvas.send_keys("n")
        tip = p.wait(lambda: p.css("#map-tip").is_displayed() and p.css("#map-tip"), "the hover card")
        assert tip.find_element("css selector", ".tip-name").text == "img_000.png", tip.text
        p.wait(lambda: driver.execute_script("const i = document.querySelector('#map-tip img'); return i && i.complete && i.naturalWidth > 0"),
               "the hovered point's image")
        p.labelled("map")
        log(f"map drew {info['n']} points; keyboard hover shows the file name and image")
        p.shot("map")

        # A selection the server refuses shows the server's message, and nothing changes.
        p.css("#tab-select").click()
        p.wait(lambda: p.css("#selection"), "the selection form")
        Select(p.css("#sel-method")).select_by_value("ACTIVE_LEARNING")
        p.css("#sel-score").send_keys("no_such_score")
        p.css("#sel-run").click()
        err = p.wait(lambda: p.css("#sel-status.error").text, "the server's error message", timeout=60)
        assert "no_such_score" in err or "score" in err.lower(), err
        assert p.css("#sel-run").is_enabled(), "the form can be sent again"
        log(f"refused selection shows the server's message: {err!r}")
        p.go(f"#/d/{info['datasetId']}/select/")
        p.wait(lambda: p.css("#selection"), "the selection form")

        # A CORESET selection of 10 from the page.
        Select(p.css("#sel-method")).select_by_value("CORESET")
        n = p.css("#sel-n")
        n.clear()
        n.send_keys("10")
        assert p.css("#sel-name").get_attribute("value") == "coreset-10"
        p.labelled("selection")
        p.shot("selection")
        p.css("#sel-run").click()
        p.wait(lambda: "coreset-10" in p.css(".tag-title").text and len(p.all("#samples li")) == 10,
               "the new tag with 10 samples", timeout=60)
        p.seen()
        assert "1–10 of 10" in p.css(".pager").text
        names = [e.get_attribute("data-tag-name") for e in p.all(".tags a.tag")]
        assert sorted(names) == ["coreset-10", "initial-tag"], names
        current = p.css(".tags a.tag.current").get_attribute("data-tag-name")
        assert current == "coreset-10", current
        log("CORESET 10 from the page -> new tag with 10 samples")

        # The map with the new tag coloured.
        p.css("#tab-map").click()
        canvas = p.wait(lambda: p.css("#map"), "the map")
        p.wait(lambda: canvas.get_attribute("data-drawn-points") == str(info["n"]), "the map again")
        assert "selected: 10" in p.css(".legend").text, p.css(".legend").text
        p.shot("map-selection")

        # The file-names export as a download.
        p.css("#tab-export").click()
        p.wait(lambda: p.css("#export-filenames"), "the export buttons").click()
        path = p.wait(lambda: [f for f in glob.glob(os.path.join(downloads, "*filenames.txt"))], "the download")[0]
        time.sleep(0.2)
        with open(path, encoding="utf-8") as f:
            lines = [line for line in f.read().split("\n") if line]
        assert len(lines) == 10, lines
        p.css("#export-csv").click()
        csv_path = p.wait(lambda: glob.glob(os.path.join(downloads, "*.csv")), "the CSV download")[0]
        time.sleep(0.2)
        with open(csv_path, encoding="utf-8") as f:
            rows = [line for line in f.read().split("\n") if line]
        assert rows[0] == "fileName,readUrl" and len(rows) == 11, rows[:3]
        assert all("/signed/sample/" in r and token not in r for r in rows[1:]), rows[1]
        log(f"export downloaded: {os.path.basename(path)}, {len(lines)} lines; CSV with 10 rows and signed URLs")
        p.shot("export")

        # Jobs.
        p.go("#/jobs")
        p.wait(lambda: any("SAMPLING" in r.text and "FINISHED" in r.text for r in p.all("#jobs tbody tr")), "the jobs list")
        failed = [r for r in p.all("#jobs tbody tr") if "FAILED" in r.text]
        assert failed, "the refused selection (no such scores) is listed as FAILED"
        p.wait(lambda: "needs scores" in failed[0].find_element("css selector", ".error-cell").text, "the failed job's error")
        p.shot("jobs")

        # A phone's width: nothing scrolls sideways.
        ds_hash = f"#/d/{info['datasetId']}/samples/"
        for h in [ds_hash, "#/", "#/jobs", f"#/d/{info['datasetId']}/map/"]:
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True})
            p.go(h)
            time.sleep(0.4)
            sw = driver.execute_script("return document.documentElement.scrollWidth")
            assert sw <= 390, f"{h} scrolls sideways at 390 px ({sw})"
        p.go(ds_hash)
        p.wait(lambda: len(p.all("#samples li")) > 0, "the grid at 390 px")
        p.shot("dataset-390px")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False})

        # Sign out clears the token.
        p.css("#sign-out").click()
        p.wait(lambda: p.css("#token"), "the sign-in form after signing out")
        assert driver.execute_script("return sessionStorage.getItem('lightly.token')") is None
        p.no_alert()

        # A user the dataset is shared with finds it under "Shared with you" (no delete button)
        # and can open it.
        if friend:
            p.token = friend
            field = p.wait(lambda: p.css("#token"), "the sign-in form for the friend")
            field.send_keys(friend + Keys.ENTER)
            link = p.wait(lambda: [a for a in p.all("#shared-datasets a.dataset-link") if a.text == "ui-demo"],
                          "the shared dataset in the friend's list")[0]
            assert not p.all("#datasets"), "the friend owns no dataset"
            assert not p.all("#shared-datasets button"), "a shared dataset has no delete button"
            link.click()
            p.wait(lambda: len(p.all("#samples li")) == min(info["n"], 48), "the shared dataset's samples")
            p.seen()
            p.css("#sign-out").click()
            p.wait(lambda: p.css("#token"), "the sign-in form after the friend signs out")
            log("the friend sees the shared dataset under 'Shared with you' and opens it")
        bad = p.csp_violations()
        assert not bad, f"Content-Security-Policy violations: {bad}"
        log(f"signed out; {len(p.urls)} page URLs without the token; no CSP violation")
    finally:
        driver.quit()


def drive_tls(binary: str, workdir: str) -> None:
    """The same page over TLS: a server with a certificate from a CA made for this run. Chromium
    is told to accept the certificate (it has no way to trust the test CA in headless mode); the
    point is that the page and its API calls work over https on the same port."""
    certs = tls_certs.make(os.path.join(workdir, "pki"))
    server = ServerProcess(binary, extra_args=["--tls-cert", certs["cert"], "--tls-key", certs["key"]])
    try:
        server.start()
        assert server.url.startswith("https://"), server.url
        token = server.create_token("tls")
        driver = make_driver(os.path.join(workdir, "tls-downloads"), extra_args=["--ignore-certificate-errors"])
        try:
            p = Page(driver, server.url, token, None)
            driver.get(server.url + "/")
            p.wait(lambda: p.css("#token"), "the sign-in form over https").send_keys(token + "\n")
            p.wait(lambda: p.css("#create-dataset"), "the datasets page over https")
            p.css("#new-dataset").send_keys("over-tls\n")
            p.wait(lambda: p.css("#dataset-name").text == "over-tls", "a dataset created over https")
            assert not p.csp_violations()
        finally:
            driver.quit()
    finally:
        assert server.stop() == 0
    log("the page works over TLS (https on the same port)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server-binary", help="the built lightly-server")
    ap.add_argument("--screenshots", metavar="DIR", help="also save a PNG of every page (1280x800) into DIR")
    ap.add_argument("--samples", type=int, default=60, help="samples of the test dataset (default 60)")
    ap.add_argument("--setup-only", action="store_true", help="only create the venvs")
    ap.add_argument("--python", default=os.environ.get("LIGHTLY_CONFORMANCE_PYTHON", sys.executable),
                    help="interpreter for the venvs (default: this one)")
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    started = time.monotonic()
    if not args.inside:
        sel, _ = setup(args.python)
        if args.setup_only:
            log("venvs ready")
            return 0
        if not args.server_binary:
            ap.error("--server-binary is required")
        argv2 = [conformance.venv_python(sel), os.path.abspath(__file__), "--inside",
                 "--server-binary", os.path.abspath(args.server_binary), "--samples", str(args.samples),
                 "--python", args.python]
        if args.screenshots:
            argv2 += ["--screenshots", os.path.abspath(args.screenshots)]
        return subprocess.run(argv2).returncode

    _, client_venv = setup(args.python)  # already there: only checks the markers
    workdir = tempfile.mkdtemp(prefix="lightly-browser-")
    server = ServerProcess(args.server_binary)
    code = None
    friend = None
    try:
        server.start()
        token = server.create_token("browser")
        info = seed(server, token, client_venv, workdir, args.samples)
        log(f"seeded {info['n']} samples with lightly {CLIENT_VERSION} ({time.monotonic() - started:.1f} s)")
        if args.screenshots:
            os.makedirs(args.screenshots, exist_ok=True)
        # A second user, with the dataset shared with them by e-mail (the sharing API).
        friend = server.create_user_token("friend@example.com")
        share = urllib.request.Request(
            f"{server.url}/v1/datasets/{info['datasetId']}/collaboration/access",
            data=json.dumps({"accessType": "WRITE", "users": ["friend@example.com"]}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"}, method="POST")
        with urllib.request.urlopen(share, timeout=30) as r:
            assert r.status == 201, r.status
        drive(server.url, token, info, args.screenshots, workdir, friend)
    finally:
        code = server.stop()
    assert code == 0, f"server exit status after SIGTERM: {code}"
    leaked = [line for line in server.log if token in line or (friend and friend in line)]
    assert not leaked, f"the token is in the server log: {leaked[:3]}"
    try:
        if shutil.which("openssl"):
            drive_tls(args.server_binary, workdir)
        else:
            log("TLS step skipped: no openssl command to make the test certificates")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    log(f"ok ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
