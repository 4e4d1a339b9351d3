// Opens a page of `convgrad --format html` in headless Chromium (puppeteer-core) and reports,
// as JSON: every request the page made beyond itself, its text with JavaScript off, and for
// each entry named in argv[3] (a JSON list) the data-from of the first cell so named and the
// data-term of every cell lit up while the pointer is on it; then whether Escape cleared them,
// and for a walkthrough how many steps show before and after "next".
"use strict";
const path = require("path");
const fs = require("fs");
const os = require("os");
const puppeteer = require(path.join(process.env.CONVGRAD_JS, "node_modules", "puppeteer-core"));

async function main() {
  const file = path.resolve(process.argv[2]);
  const names = JSON.parse(process.argv[3] || "[]");
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "convgrad-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           `--user-data-dir=${profile}`],
  });
  const out = { requests: [], text: "", pointed: {}, cleared: null, steps: null };
  try {
    const url = "file://" + file;
    const watch = async (page) => {
      await page.setRequestInterception(true);
      page.on("request", (request) => {
        if (request.url() !== url) out.requests.push(request.url());
        request.continue();
      });
    };
    const plain = await browser.newPage();
    await watch(plain);
    await plain.setJavaScriptEnabled(false);
    await plain.goto(url, { waitUntil: "load" });
    out.text = await plain.evaluate(() => document.body.innerText);

    const page = await browser.newPage();
    await watch(page);
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(url, { waitUntil: "load" });
    for (const name of names) {
      const cell = await page.$(`[data-term="${name}"]`);
      if (!cell) { out.pointed[name] = null; continue; }
      await cell.hover();
      out.pointed[name] = await page.evaluate((name) => {
        const cell = document.querySelector(`[data-term="${name}"]`);
        const lit = [...document.querySelectorAll(".cg-hl")].map((e) => e.dataset.term);
        const status = document.querySelector(".cg-status");
        return { from: cell.dataset.from, lit: [...new Set(lit)],
                 status: status && !status.hidden ? status.textContent : "" };
      }, name);
      await page.mouse.move(0, 0);
    }
    const first = names.length ? await page.$(`[data-term="${names[0]}"]`) : null;
    if (first) {
      await first.focus();
      await page.keyboard.press("Escape");
      out.cleared = await page.evaluate(() => document.querySelectorAll(".cg-hl").length === 0);
    }
    const steps = await page.$$(".cg-step");
    if (steps.length) {
      const shown = () => page.evaluate(() => [...document.querySelectorAll(".cg-step")]
        .map((s, i) => [i, getComputedStyle(s).display !== "none"]).filter(([, v]) => v)
        .map(([i]) => i));
      const before = await shown();
      await page.click(".cg-next");
      const after = await shown();
      await page.click(".cg-prev");
      out.steps = { count: steps.length, before, after, back: await shown() };
    }
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((err) => { process.stderr.write(String(err.stack || err) + "\n"); process.exit(1); });
