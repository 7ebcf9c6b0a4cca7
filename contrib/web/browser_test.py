#!/usr/bin/python3
"""Drives headless Chromium through the dashboard (see browser-test.sh). Each check prints one line; the first failure
exits 1 with what was expected and what the page showed."""
import argparse
import json
import subprocess
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


DRIVER = []  # the browser, once started: a failure prints its console (script errors)


def fail(message):
    print("FAIL: " + message, flush=True)
    for driver in DRIVER:
        for entry in driver.get_log("browser"):
            print("browser console: %s %s" % (entry.get("level"), entry.get("message")), flush=True)
    sys.exit(1)


def ok(message):
    print("ok: " + message, flush=True)


def wait_for(what, condition, timeout=20.0, interval=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
            if last:
                return last
        except Exception as error:  # the page may be between renders
            last = error
        time.sleep(interval)
    fail("%s (after %.1f s; last: %r)" % (what, timeout, last))


def log_numbers(driver):
    return driver.execute_script("return Array.from(document.querySelectorAll('#log div')).map(d => Number(d.dataset.n))")


def page_back(driver):
    """The log tail keeps at most 500 lines; "load earlier lines" pages back by from_line to the log's first line,
    every line once and in order, the DOM still bounded; "back to live" shows the live tail again."""
    before = log_numbers(driver)
    if not before or before[0] == 0:
        fail("the train stage printed 700 filler lines first: the live tail must not reach back to line 0: %r" % before[:3])
    button = driver.find_element(By.ID, "logearlier")
    clicks = 0
    while log_numbers(driver)[0] > 0:
        first = log_numbers(driver)[0]
        button.click()
        clicks += 1
        wait_for("earlier lines before line %d" % first, lambda: log_numbers(driver)[0] < first)
        numbers = log_numbers(driver)
        if numbers != list(range(numbers[0], numbers[0] + len(numbers))) or len(numbers) > 500:
            fail("paged log must be consecutive lines, at most 500: %r..%r (%d)" % (numbers[:3], numbers[-3:], len(numbers)))
        if clicks > 10:
            fail("paging back never reached line 0: %r" % numbers[:3])
    lines = driver.find_element(By.ID, "log").text.split("\n")
    if lines[0] != "filler0" or lines[1] != "filler1":
        fail("the log's first lines must be filler0, filler1: %r" % lines[:3])
    if not driver.find_element(By.ID, "logearlier").get_attribute("disabled"):
        fail("load earlier must be disabled at the log's first line")
    ok("log paged back to its first line in %d steps by from_line (%d lines shown, consecutive)" % (clicks, len(log_numbers(driver))))
    driver.find_element(By.ID, "loglive").click()
    wait_for("back to the live tail", lambda: log_numbers(driver)[-1] >= before[-1] and log_numbers(driver)[0] > 0)
    ok("back to live: lines %d..%d" % (log_numbers(driver)[0], log_numbers(driver)[-1]))


def main():
    parser = argparse.ArgumentParser()
    for name in ("url", "evil", "password-file", "heidictl", "socket", "journal", "screenshot"):
        parser.add_argument("--" + name, required=True)
    args = parser.parse_args()
    password = open(args.password_file).read().strip()
    ctl = lambda *words: subprocess.run([args.heidictl, "--socket", args.socket, *words], check=True,
                                        stdout=subprocess.DEVNULL)

    options = Options()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1400", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.binary_location = "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    DRIVER.append(driver)
    try:
        driver.get(args.url + "/")
        wait_for("the login form", lambda: driver.find_element(By.ID, "login").is_displayed())
        driver.find_element(By.ID, "password").send_keys("wrong-password-123456")
        driver.find_element(By.CSS_SELECTOR, "#loginform button").click()
        shown = wait_for("a wrong password refused", lambda: driver.execute_script(
            "return document.getElementById('loginerror').textContent"))
        if "wrong password" not in shown:
            fail("a wrong password must be refused: the page says %r" % shown)
        ok("a wrong password is refused")
        driver.find_element(By.ID, "password").send_keys(password)
        driver.find_element(By.CSS_SELECTOR, "#loginform button").click()
        wait_for("the dashboard after login", lambda: driver.find_element(By.ID, "dash").is_displayed())
        cookie = driver.get_cookie("heidi_session")
        if not cookie or not cookie.get("httpOnly") or cookie.get("sameSite") != "Strict":
            fail("session cookie must be HttpOnly and SameSite=Strict: %r" % cookie)
        ok("logged in; session cookie HttpOnly, SameSite=Strict")
        wait_for("state IDLE shown", lambda: driver.find_element(By.ID, "state").text == "IDLE")
        wait_for("live connection", lambda: driver.find_element(By.ID, "conn").text == "live")

        started = time.monotonic()
        ctl("start")
        wait_for("the state leaving IDLE within 1 s of heidictl start",
                 lambda: driver.find_element(By.ID, "state").text not in ("IDLE", "–"), timeout=1.0, interval=0.02)
        ok("state change shown %.0f ms after heidictl start" % ((time.monotonic() - started) * 1000))

        wait_for("the train stage's log tail", lambda: "step " in driver.find_element(By.ID, "log").text, timeout=60)
        ok("log tail shows the train stage's output")
        first = int(wait_for("loss curve points", lambda: int(driver.find_element(By.ID, "curve").get_attribute("data-points") or 0) > 0))
        points = lambda: int(driver.find_element(By.ID, "curve").get_attribute("data-points") or 0)
        later = wait_for("the loss curve growing", lambda: points() > first and points())
        ok("loss curve drawn and updating (%d -> %s points)" % (first, later))
        log = driver.find_element(By.ID, "log")
        if "<script>window.__xss=1</script>" not in log.text or "onerror=window.__xss=2" not in log.text:
            fail("stage markup must be shown as text: %r" % log.text[:300])
        if driver.execute_script("return window.__xss") is not None or log.find_elements(By.TAG_NAME, "img"):
            fail("stage markup was executed or rendered as HTML")
        ok("<script> and <img onerror> from a stage are shown as text, not run")
        driver.save_screenshot(args.screenshot)
        print("screenshot: " + args.screenshot, flush=True)
        page_back(driver)

        driver.find_element(By.CSS_SELECTOR, "button[data-action=pause]").click()
        wait_for("the pause action answered", lambda: "pause:" in driver.find_element(By.ID, "actionresult").text)
        wait_for("pause shown", lambda: "pause" in driver.find_element(By.ID, "flags").text
                 or driver.find_element(By.ID, "state").text == "PAUSED", timeout=30)
        driver.find_element(By.CSS_SELECTOR, "button[data-action=resume]").click()
        wait_for("the resume action answered", lambda: "resume:" in driver.find_element(By.ID, "actionresult").text)
        journal = [json.loads(line) for line in open(args.journal)]
        acted = [e for e in journal if e["event_type"] in ("paused", "resumed", "pause_requested") or "(by operator" in e["message"]]
        if not any("(by operator (session) from 127.0.0.1 via heidi-web, relayed by uid " in e["message"] for e in acted):
            fail("the pause must be journalled with who and from where: %r" % [e["message"] for e in acted])
        ok("pause/resume pressed; journalled as %r" % next(e["message"] for e in acted if "(by operator" in e["message"]))

        dashboard = driver.current_window_handle
        driver.switch_to.new_window("tab")
        driver.get(args.evil)
        body = wait_for("the cross-origin POST answered", lambda: driver.find_element(By.TAG_NAME, "body").text)
        if "refused" not in body:
            fail("a POST from another origin must be refused: %r" % body[:200])
        journal = [json.loads(line) for line in open(args.journal)]
        if any(e["event_type"] == "pipeline_stop" for e in journal):
            fail("the cross-origin POST stopped the run")
        ok("cross-origin POST refused (%s), run not stopped" % body.strip()[:80])
        driver.close()
        driver.switch_to.window(dashboard)
        wait_for("the run completing", lambda: driver.find_element(By.ID, "state").text == "IDLE", timeout=120)
        rounds = driver.find_element(By.ID, "curvelegend").text.lower()
        if "round 1" not in rounds or "round 2" not in rounds:
            fail("both rounds must be distinguishable in the curve legend: %r" % rounds)
        ok("run complete; curve legend: %s" % rounds.strip())
        events = driver.find_elements(By.CSS_SELECTOR, "#events li")
        if not events:
            fail("no events in the timeline")
        ok("event timeline shows %d events" % len(events))
    finally:
        driver.quit()
    print("browser test passed", flush=True)


if __name__ == "__main__":
    main()
