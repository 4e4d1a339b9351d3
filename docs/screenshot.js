// A picture of a page of `convgrad --format html` with the pointer on one entry: its sources
// lit up and its term written out. argv: page, entry name (data-term), PNG to write.
"use strict";
const path = require("path");
const fs = require("fs");
const os = require("os");
const puppeteer = require(path.join(process.env.CONVGRAD_JS, "node_modules", "puppeteer-core"));

async function main() {
  const [file, name, png] = process.argv.slice(2);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "convgrad-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           `--user-data-dir=${profile}`],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 900, height: 620 });
    await page.goto("file://" + path.resolve(file), { waitUntil: "load" });
    const cells = await page.$$(`[data-term="${name}"]`);
    const cell = cells[cells.length - 1];
    await cell.evaluate((e) => e.closest("section, h2 ~ *") && e.scrollIntoView({ block: "center" }));
    await cell.hover();
    await page.screenshot({ path: png });
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((err) => { process.stderr.write(String(err.stack || err) + "\n"); process.exit(1); });
