// Uses the service's /docs page in a real browser (Debian's chromium, driven
// by playwright-core) as a person would: lists the operations the page
// shows, then tries one create and one get through "Try it out".
//
//   node docs_browser.cjs BASE_URL SCREENSHOT.png
//
// Environment: PLAYWRIGHT_CORE (path of the playwright-core package),
// CHROMIUM (the browser binary). Prints one JSON object on stdout: the
// operations shown, both round trips' status and body, every URL the page
// requested, and the console errors. The Rust test judges it.

"use strict";

const { chromium } = require(process.env.PLAYWRIGHT_CORE);

const [base, screenshot] = process.argv.slice(2);
const STEP_MS = 20000;

// Runs "Try it out" on one operation: fills the parameters and body, executes,
// and reads the live response's status and body.
async function tryItOut(page, operationId, { params = {}, body } = {}) {
  const block = page.locator(`[id$="-${operationId}"]`).first();
  await block.locator(".opblock-summary").first().click();
  await block.locator("button.try-out__btn").click();
  for (const [name, value] of Object.entries(params)) {
    await block.locator(`tr[data-param-name="${name}"] input`).fill(String(value));
  }
  if (body !== undefined) {
    await block.locator("textarea.body-param__text").fill(JSON.stringify(body));
  }
  await block.locator("button.execute").click();
  const live = block.locator(".live-responses-table .response").first();
  await live.waitFor({ timeout: STEP_MS });
  const status = Number((await live.locator(".response-col_status").innerText()).trim());
  const text = await live.locator(".response-col_description pre").first().innerText();
  return { status, body: JSON.parse(text) };
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const result = { requests: [], consoleErrors: [], failedRequests: [] };
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.setDefaultTimeout(STEP_MS);
    page.on("request", (request) => result.requests.push(request.url()));
    page.on("requestfailed", (request) => result.failedRequests.push(request.url()));
    page.on("console", (message) => {
      if (message.type() === "error") result.consoleErrors.push(message.text());
    });

    await page.goto(`${base}/docs`, { waitUntil: "load" });
    await page.locator(".opblock").first().waitFor();
    result.title = await page.locator(".info .title").first().innerText();
    result.operations = await page.locator(".opblock").evaluateAll((blocks) =>
      blocks.map((block) => {
        const method = block.querySelector(".opblock-summary-method").textContent.trim();
        const path = block.querySelector(".opblock-summary-path").getAttribute("data-path");
        return `${method} ${path}`;
      }),
    );
    await page.screenshot({ path: screenshot, fullPage: true });

    const name = `made in the browser ${Date.now()}`;
    result.create = await tryItOut(page, "createEntity", {
      body: { name, description: "through Try it out" },
    });
    result.createdName = name;
    result.get = await tryItOut(page, "getEntity", { params: { id: result.create.body.id } });
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(result));
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
