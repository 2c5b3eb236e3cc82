// End-to-end tests of the web chat widget in a real browser: headless Chromium (the
// system's, installed by apt) driven by playwright-core, against a real `parlor serve` on a
// temporary data dir. The host pages are served from other ports than Parlor, so the widget
// runs cross-origin exactly as on a customer's site.
//
//   node --test widget/tests/e2e.mjs
//
// Environment: PARLOR_BIN (default: the debug build under CARGO_TARGET_DIR or target/),
// CHROMIUM (default /usr/bin/chromium), PARLOR_E2E_SCREENSHOTS (a directory: save the
// desktop and phone screenshots there, e.g. `docs`).

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const PARLOR_BIN =
  process.env.PARLOR_BIN || path.join(process.env.CARGO_TARGET_DIR || path.join(repo, "target"), "debug", "parlor");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SCREENSHOTS = process.env.PARLOR_E2E_SCREENSHOTS;
const QUESTION = "How do I export records?";

let parlor; // {process, base, key, webChat, dataDir, output}
let hostA; // an allowed site
let hostB; // a site that will not be allowed
let browser;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function startParlor() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "parlor-e2e-"));
  const port = await freePort();
  const child = spawn(PARLOR_BIN, ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", dataDir], {
    env: { ...process.env, RUST_LOG: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`parlor serve exited:\n${output}`);
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`parlor serve did not come up:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // The first start prints the key and the demo web chat (see the README).
  const key = /API key \(shown once\): (\S+)/.exec(output)?.[1];
  const webChat = /web chat: ([0-9a-f-]{36})/.exec(output)?.[1];
  assert.ok(key && webChat, `first-start output names the key and the web chat:\n${output}`);
  return { process: child, base, key, webChat, dataDir, output: () => output };
}

/** A site whose page embeds the widget, with CSS hostile to it (it must not leak in). */
function startHost(scriptUrl) {
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme Store</title>
<style>
  body { font: 22px/2.2 Georgia, serif; color: #b91c1c; background: #fffbeb; margin: 0; padding: 24px 32px; }
  button { background: lime !important; font-size: 30px; } div { border: 2px dashed #b91c1c; }
  p, h1 { max-width: 640px; }
</style></head>
<body>
  <h1>Acme Store</h1>
  <p>Welcome to our shop. Questions? Our assistant is in the corner.</p>
  <script src="${scriptUrl}" async></script>
</body></html>`;
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
    res.end(page);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${server.address().port}/` })),
  );
}

async function api(method, p, body) {
  const r = await fetch(parlor.base + p, {
    method,
    headers: { Authorization: `Api-Key ${parlor.key}`, "Content-Type": "application/json" },
    body: body && JSON.stringify(body),
  });
  assert.ok(r.ok, `${method} ${p}: ${r.status} ${await r.clone().text()}`);
  return r.json();
}

/** Evaluates `fn(shadowRoot)` in the page, on the widget's shadow root. */
function inWidget(page, fn, arg) {
  return page.evaluate(
    ([src, a]) => {
      const root = document.querySelector("[data-parlor-widget]")?.shadowRoot;
      return new Function("root", "arg", `return (${src})(root, arg);`)(root, a);
    },
    [fn.toString(), arg],
  );
}

before(async () => {
  assert.ok(fs.existsSync(PARLOR_BIN), `no parlor binary at ${PARLOR_BIN}: cargo build -p parlor-server --bin parlor`);
  parlor = await startParlor();
  const script = `${parlor.base}/widget/${parlor.webChat}.js`;
  hostA = await startHost(script);
  hostB = await startHost(script);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  hostA?.server.close();
  hostB?.server.close();
  if (parlor) {
    parlor.process.kill("SIGTERM");
    await new Promise((r) => parlor.process.once("exit", r));
    fs.rmSync(parlor.dataDir, { recursive: true, force: true });
  }
});

test("a visitor chats with the demo chatbot, keeps the history, and hears from an agent", async (t) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const dialogs = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    d.dismiss();
  });
  await page.goto(hostA.url);

  await t.test("the launcher opens the panel with the welcome message, focus in the input", async () => {
    const launcher = page.getByRole("button", { name: "Open chat" });
    await launcher.waitFor();
    // The host page's `button { background: lime !important }` does not reach the widget.
    const bg = await launcher.evaluate((b) => getComputedStyle(b).backgroundColor);
    assert.equal(bg, "rgb(37, 99, 235)");
    await launcher.click();
    await page.getByRole("dialog", { name: "Demo web chat" }).waitFor();
    await page.locator(".msg.welcome").getByText("I know how Parlor works").waitFor();
    assert.equal(await inWidget(page, (root) => root.activeElement?.getAttribute("aria-label")), "Message");
    const font = await page.locator(".log").evaluate((l) => getComputedStyle(l).fontFamily);
    assert.ok(!/Georgia/.test(font), `the page's font leaked in: ${font}`);
  });

  await t.test("a question gets the streamed answer, token by token", async () => {
    // Record the reply's text as the page shows it, every time it changes.
    await inWidget(page, (root) => {
      window.seen = [];
      new MutationObserver(() => {
        const body = root.querySelector(".msg.bot:not(.welcome) .body");
        if (body) window.seen.push(body.textContent.length);
      }).observe(root.querySelector(".log"), { subtree: true, childList: true, characterData: true });
    });
    await page.getByRole("textbox", { name: "Message" }).fill(QUESTION);
    await page.keyboard.press("Enter");
    await page.locator(".msg.user").getByText(QUESTION).waitFor();
    const answer = page.locator('.msg.bot:not(.welcome)[aria-busy="false"]');
    await answer.getByText("export-excel").waitFor();
    const text = await answer.innerText();
    assert.match(text, /Excel spreadsheet/);
    const seen = await page.evaluate(() => [...new Set(window.seen)]);
    assert.ok(seen.length >= 3, `the answer appeared piece by piece, not at once: ${seen}`);
    // Markdown: `code` spans are rendered as code.
    assert.ok((await answer.locator("code").count()) >= 1, "inline code is formatted");
  });

  await t.test("the history is there after a reload", async () => {
    await page.reload();
    await page.getByRole("button", { name: "Open chat" }).click();
    await page.locator(".msg.user").getByText(QUESTION).waitFor();
    await page.locator(".msg.bot:not(.welcome)").getByText("Excel spreadsheet").waitFor();
    assert.equal(await page.locator(".msg.user").count(), 1);
  });

  let conversation;
  await t.test("an agent's message arrives live", async () => {
    const conversations = await api("GET", `/api/conversations/?inbox=${parlor.webChat}`);
    conversation = conversations.results[0].id;
    const content = "Hi, I'm **Ann** from support. The [records guide](https://example.com/docs) has more.";
    await api("POST", "/api/messages/", { conversation, type: "outgoing", content, senderName: "Ann" });
    const agent = page.locator(".msg.agent");
    await agent.getByText("from support").waitFor();
    assert.equal(await agent.locator(".who").innerText(), "Ann");
    assert.equal(await agent.locator("strong").innerText(), "Ann");
  });

  await t.test("screenshots at desktop and phone width", async () => {
    const dir = SCREENSHOTS ? path.resolve(repo, SCREENSHOTS) : fs.mkdtempSync(path.join(os.tmpdir(), "parlor-shots-"));
    fs.mkdirSync(dir, { recursive: true });
    await page.locator(".log").evaluate((l) => (l.scrollTop = l.scrollHeight));
    await page.mouse.move(0, 0);
    await page.screenshot({ path: path.join(dir, "widget-desktop.png") });
    await page.setViewportSize({ width: 390, height: 844 });
    const box = await page.locator(".panel").boundingBox();
    assert.deepEqual([box.x, box.width], [0, 390], "the panel fills a phone's width");
    await page.locator(".log").evaluate((l) => (l.scrollTop = l.scrollHeight));
    await page.screenshot({ path: path.join(dir, "widget-phone.png") });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await t.test("bot and agent text cannot inject HTML or script", async () => {
    const content =
      "Careful: <img src=x onerror=alert('xss')> <script>alert('xss')</script> " +
      "[click](javascript:alert('xss')) and [the docs](https://example.com/docs).";
    await api("POST", "/api/messages/", { conversation, type: "outgoing", content, senderName: "Mallory" });
    const agent = page.locator(".msg.agent").filter({ hasText: "Careful" });
    await agent.waitFor();
    assert.equal(await agent.locator("img, script").count(), 0, "no HTML from the message");
    assert.match(await agent.innerText(), /<img src=x onerror=alert\('xss'\)>/);
    const links = await agent.locator("a").evaluateAll((as) => as.map((a) => [a.href, a.rel, a.target]));
    assert.deepEqual(links, [["https://example.com/docs", "noopener noreferrer nofollow", "_blank"]]);
    assert.deepEqual(dialogs, [], "no script ran");
  });

  await t.test("Escape closes the panel and gives focus back to the launcher", async () => {
    await page.getByRole("textbox", { name: "Message" }).focus();
    await page.keyboard.press("Escape");
    assert.equal(await page.locator(".panel").isHidden(), true);
    assert.equal(await inWidget(page, (root) => root.activeElement?.className), "launcher");
    await page.keyboard.press("Enter"); // the focused launcher opens it again
    await page.getByRole("dialog").waitFor();
  });

  await context.close();
});

test("the hosted page /chat/{id} serves the same chat", async () => {
  const context = await browser.newContext({ viewport: { width: 1024, height: 700 } });
  const page = await context.newPage();
  await page.goto(`${parlor.base}/chat/${parlor.webChat}`);
  await page.getByRole("textbox", { name: "Message" }).fill("What is Parlor?");
  await page.getByRole("button", { name: "Send message" }).click();
  await page.locator('.msg.bot:not(.welcome)[aria-busy="false"] .body:not(:empty)').waitFor();
  await context.close();
});

test("a page from an origin not in allowedOrigins cannot use the web chat", async () => {
  const allowed = new URL(hostA.url).origin;
  await api("PATCH", `/api/web-chats/${parlor.webChat}/`, { allowedOrigins: [allowed] });
  const context = await browser.newContext();
  const page = await context.newPage();
  const warned = new Promise((resolve) =>
    page.on("console", (m) => m.type() === "warning" && /cannot be used here/.test(m.text()) && resolve()),
  );
  await page.goto(hostB.url);
  await warned;
  assert.equal(await page.locator("[data-parlor-widget]").count(), 0, "no widget on a site not allowed");
  // Nor can the page's own script reach the visitor API: the browser blocks the response.
  const outcome = await page.evaluate(async (url) => {
    try {
      await fetch(url, { method: "POST" });
      return "readable";
    } catch (e) {
      return e.name;
    }
  }, `${parlor.base}/api/widget/${parlor.webChat}/sessions/`);
  assert.equal(outcome, "TypeError");
  // The allowed site still works.
  await page.goto(hostA.url);
  await page.getByRole("button", { name: "Open chat" }).waitFor();
  // And an inactive web chat is refused everywhere.
  await api("PATCH", `/api/web-chats/${parlor.webChat}/`, { allowedOrigins: [], isActive: false });
  const refused = new Promise((resolve) =>
    page.on("console", (m) => /cannot be used here: This web chat is not active/.test(m.text()) && resolve()),
  );
  await page.goto(hostB.url);
  await refused;
  await api("PATCH", `/api/web-chats/${parlor.webChat}/`, { isActive: true });
  await context.close();
});
