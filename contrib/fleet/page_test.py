#!/usr/bin/python3
"""The fleet page in headless Chromium (see page-test.sh): a dashboard (heidi-web with web.fleet) and one worker (its
heidid runs the demo pipeline; its heidi-web ships to the dashboard, allow_actions on), both on loopback. Logged out,
/fleet asks for a login; logged in, it lists the worker with its state, run, round, stage and child, and the fleet
timeline; a click opens the worker's view: events from the dashboard's copy, the state, the log tail and the loss
curve relayed from the worker, and an action, journalled on both sides. No request of the page may fail after the
login. Each check prints one line; the first failure exits 1 with what the page showed."""
import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

REPO = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
DRIVER = []
PROCS = []


def fail(message, work=None):
    print("FAIL: " + message, flush=True)
    for driver in DRIVER:
        for entry in driver.get_log("browser"):
            print("browser console: %s %s" % (entry.get("level"), entry.get("message")), flush=True)
    if work:
        for name in ("dashboard", "worker", "heidid"):
            print("--- %s.log (its end)" % name)
            with open(f"{work}/{name}.log", errors="replace") as handle:
                print("".join(handle.readlines()[-15:]), end="")
    sys.exit(1)


def ok(message):
    print("ok: " + message, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write(path, text, mode=0o600):
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)


def spawn(work, name, argv):
    environment = {k: v for k, v in os.environ.items() if k not in ("DASHBOARD_HOST", "TELEMETRY_PASS", "HEIDI_CONFIG")}
    PROCS.append(subprocess.Popen(argv, stdout=open(f"{work}/{name}.log", "w"), stderr=subprocess.STDOUT, env=environment))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="heidi-fleet-page.")
    dash_port, worker_port = free_port(), free_port()
    password = secrets.token_urlsafe(18)
    token = "fleet-page-" + secrets.token_hex(12)
    write(f"{work}/password", password + "\n")
    write(f"{work}/workers", f"w1 {token}\n")
    write(f"{work}/token", token + "\n")
    write(f"{work}/dashboard.yaml", f"web:\n  fleet:\n    dir: {work}/fleet\n    workers_file: {work}/workers\n", 0o644)
    with open(f"{REPO}/config/demo.yaml") as handle:
        text = handle.read()
    text = text.replace("repo_root: ../contrib/demo", f"repo_root: {REPO}/contrib/demo")
    text = text.replace("rounds: 2", "rounds: 1000").replace("autostart: false", "autostart: true")
    text += (f"\nweb:\n  dashboard:\n    url: http://127.0.0.1:{dash_port}\n    token_file: {work}/token\n    name: w1\n"
             f"    allow_actions: true\n    heartbeat: 1\n    journal: {work}/state/events.jsonl\n")
    write(f"{work}/heidi.yaml", text, 0o644)
    sock = f"{work}/heidi.sock"
    spawn(work, "heidid", [f"{args.bin}/heidid", "--config", f"{work}/heidi.yaml", "--state-dir", f"{work}/state",
                           "--runtime-dir", f"{work}/run", "--socket", sock])
    spawn(work, "dashboard", [f"{args.bin}/heidi-web", "--config", f"{work}/dashboard.yaml", "--listen",
                              f"127.0.0.1:{dash_port}", "--socket", f"{work}/no-heidid.sock", "--password-file", f"{work}/password"])
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.1)
    spawn(work, "worker", [f"{args.bin}/heidi-web", "--config", f"{work}/heidi.yaml", "--socket", sock, "--listen",
                           f"127.0.0.1:{worker_port}", "--password-file", f"{work}/password"])
    url = f"http://127.0.0.1:{dash_port}"

    options = Options()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1600", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    DRIVER.append(driver)

    def wait_for(what, condition, timeout=20.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = condition()
                if last:
                    return last
            except Exception as error:  # the page may be between renders
                last = error
            time.sleep(0.1)
        fail("%s (after %.0f s; last: %r)" % (what, timeout, last), work)

    text_of = lambda element_id: driver.find_element(By.ID, element_id).text
    try:
        driver.get(url + "/fleet")
        wait_for("logged out, /fleet asks for a login", lambda: driver.find_element(By.ID, "needlogin").is_displayed())
        ok("logged out: /fleet asks for a login")
        driver.get(url + "/")
        wait_for("the login form", lambda: driver.find_element(By.ID, "login").is_displayed())
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "#loginform button").click()
        wait_for("the session cookie", lambda: driver.get_cookie("heidi_session"))
        driver.get_log("browser")  # from here on, no request may fail
        driver.get(url + "/fleet")
        row = lambda: [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#workers tbody tr[data-worker=w1] td")]
        wait_for("w1's row with its state, run, round and stage", lambda: len(row()) == 12 and row()[1] == "up"
                 and row()[2] not in ("IDLE", "–") and row()[3].startswith("run_") and row()[5] != "–")
        ok("w1 listed: " + " | ".join(cell[:40] for cell in row()[:7]))
        wait_for("the fleet timeline", lambda: "w1" in text_of("timeline") and "joined" in text_of("timeline"))
        ok("fleet timeline: %d entries" % len(text_of("timeline").split("\n")))

        driver.find_element(By.CSS_SELECTOR, "#workers tbody tr[data-worker=w1] td.name").click()
        wait_for("the worker's view", lambda: driver.find_element(By.ID, "worker").is_displayed())
        wait_for("events from the dashboard's copy", lambda: "daemon_start" in text_of("wevents"))
        wait_for("the worker's state", lambda: text_of("wstate") not in ("", "–"))
        ok("worker view: state %s, %s; %d events" % (text_of("wstate"), text_of("wrun"), len(text_of("wevents").split("\n"))))
        wait_for("the relayed log tail of the current stage", lambda: text_of("wlogname") and text_of("wlog").strip()
                 and "unavailable" not in text_of("wlog") and "no stage" not in text_of("wlog"), timeout=60)
        ok("log tail of %s relayed: %r" % (text_of("wlogname"), text_of("wlog").split("\n")[-1][:60]))
        wait_for("the loss curve, relayed", lambda: driver.find_element(By.ID, "wline").get_attribute("points")
                 and text_of("wloss").startswith("round "), timeout=90)
        points = driver.find_element(By.ID, "wline").get_attribute("points").split()
        ok("loss curve relayed: %s (%d points)" % (text_of("wloss"), len(points)))

        wait_for("actions allowed", lambda: "allows remote actions" in text_of("wallow"))
        button = driver.find_element(By.CSS_SELECTOR, "#wactions button[data-action=stop]")
        wait_for("the stop button enabled", lambda: button.is_enabled())
        button.click()
        wait_for("the action's answer", lambda: text_of("wresult").startswith("20"))
        wait_for("w1 idle after the stop", lambda: row()[2] == "IDLE", timeout=30)
        driver.execute_script("document.getElementById('wresult').textContent = ''")
        # A stop during a stage is journalled when the stage has ended, without the actor; a start carries it.
        driver.find_element(By.CSS_SELECTOR, "#wactions button[data-action=start]").click()
        wait_for("the start's answer", lambda: text_of("wresult").startswith("20"))
        wait_for("w1 running again", lambda: row()[2] != "IDLE", timeout=30)
        with open(f"{work}/fleet/fleet-events.jsonl") as handle:
            record = [line for line in handle if '"kind":"action"' in line]
        with open(f"{work}/state/events.jsonl") as handle:
            journal = [line for line in handle if "via fleet dashboard" in line]
        if len(record) < 2 or "/action/stop" not in record[-2] or "/action/start" not in record[-1] \
                or "operator" not in record[-1] or "127.0.0.1" not in record[-1]:
            fail("the dashboard's record lacks the stop and the start with who and from where: %r" % record[-2:], work)
        if not any('"pipeline_start"' in line and "operator" in line and "127.0.0.1" in line for line in journal):
            fail("the worker's journal lacks pipeline_start by the operator from 127.0.0.1 via fleet dashboard: %r" % journal[-1:], work)
        ok("stop and start from the page: recorded on the dashboard and journalled by the worker with who and from where")

        errors = [entry["message"] for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
        if errors:
            fail("the page's requests failed: %s" % errors[:3], work)
        ok("no failed request or script error after the login")
        driver.save_screenshot(f"{work}/fleet.png")
        print("fleet-page-test: all checks passed (screenshot %s)" % f"{work}/fleet.png", flush=True)
    finally:
        driver.quit()
        for proc in PROCS:
            proc.terminate()
        for proc in PROCS:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                fail(f"{proc.args[0]} did not exit within 30 s of SIGTERM")
    shutil.rmtree(f"{work}/state", ignore_errors=True)


if __name__ == "__main__":
    main()
