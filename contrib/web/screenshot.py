#!/usr/bin/python3
"""Logs in to a heidi-web dashboard with headless Chromium and saves a screenshot once the page shows the run.
Usage: screenshot.py URL PASSWORD_FILE OUTPUT.png   (Debian: apt-get install chromium chromium-driver python3-selenium)"""
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

url, password_file, output = sys.argv[1:4]
options = Options()
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1100", "--disable-dev-shm-usage"):
    options.add_argument(flag)
options.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    driver.get(url)
    deadline = time.monotonic() + 15
    while not driver.find_element(By.ID, "login").is_displayed() and time.monotonic() < deadline:
        time.sleep(0.1)
    driver.find_element(By.ID, "password").send_keys(open(password_file).read().strip())
    driver.find_element(By.CSS_SELECTOR, "#loginform button").click()
    while time.monotonic() < deadline and (not driver.find_element(By.ID, "dash").is_displayed()
                                           or driver.find_element(By.ID, "curve").get_attribute("data-points") in (None, "0")):
        time.sleep(0.1)
    time.sleep(0.5)
    driver.save_screenshot(output)
finally:
    driver.quit()
