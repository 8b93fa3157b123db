// Render a Home Assistant dashboard in Debian's Chromium (playwright-core, no browser download),
// logged in with the owner's tokens, and read it back: every entity card's name, value and unit,
// and the text of every markdown card. Writes a screenshot; prints one JSON object on stdout.
//
//   node dashboard.mjs <hass url> <dashboard path> <language> <tokens.json> <screenshot.png> <card name>...
//
// <language> (en, ko) is the frontend's, as the tablet's owner picked it in their profile.
// It waits until every named entity card shows a value that is not "unavailable" or "unknown".
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [hassUrl, dashboardPath, language, tokensFile, screenshot, ...wanted] = process.argv.slice(2);
const LOCALES = { en: 'en-US', ko: 'ko-KR' };
const tokens = JSON.parse(readFileSync(tokensFile, 'utf8'));
const started = Date.now();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // The machine has no network beyond loopback: no background connections, no GPU.
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
try {
  // A 10-inch landscape tablet: 1280 x 800 CSS pixels.
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    locale: LOCALES[language],
    timezoneId: 'Asia/Seoul',
  });
  if (!LOCALES[language]) throw new Error(`unknown language ${language}`);
  await context.addInitScript(([stored, selected]) => {
    // What the frontend keeps after a login and a language picked in the profile, and a wall
    // tablet's hidden sidebar.
    window.localStorage.setItem('hassTokens', JSON.stringify(stored));
    window.localStorage.setItem('selectedLanguage', JSON.stringify(selected));
    window.localStorage.setItem('dockedSidebar', JSON.stringify('always_hidden'));
  }, [{ ...tokens, hassUrl, clientId: `${hassUrl}/`, expires: Date.now() + tokens.expires_in * 1000 }, language]);
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  await page.goto(`${hassUrl}${dashboardPath}`, { waitUntil: 'load' });

  // Walks the page through every shadow root.
  const read = () =>
    page.evaluate(() => {
      const all = (root, selector, found = []) => {
        root.querySelectorAll(selector).forEach((element) => found.push(element));
        root.querySelectorAll('*').forEach((element) => {
          if (element.shadowRoot) all(element.shadowRoot, selector, found);
        });
        return found;
      };
      const text = (root, selector) => {
        const element = root && root.querySelector(selector);
        return element ? element.textContent.trim() : null;
      };
      const cards = all(document, 'hui-entity-card').map((card) => ({
        name: text(card.shadowRoot, '.name'),
        value: text(card.shadowRoot, '.value'),
        unit: text(card.shadowRoot, '.measurement'),
      }));
      const markdown = all(document, 'ha-markdown').map((element) =>
        (element.shadowRoot ? element.shadowRoot.textContent : element.textContent).trim(),
      );
      const todo = all(document, 'hui-todo-list-card').map((card) => {
        const body = card.shadowRoot && card.shadowRoot.querySelector('ha-card');
        return body ? body.innerText.replace(/\s+/g, ' ').trim() : '';
      });
      return { cards, markdown, todo, title: document.title };
    });

  const ready = (result) =>
    wanted.every((name) => {
      const card = result.cards.find((found) => found.name === name);
      return card && card.value && !/^(unavailable|unknown)$/i.test(card.value);
    });
  let result = await read();
  const deadline = Date.now() + 60_000;
  while (!ready(result) && Date.now() < deadline) {
    await page.waitForTimeout(250);
    result = await read();
  }
  const renderedMs = Date.now() - started;
  // Let images (the heatmap) and fonts settle before the picture.
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.screenshot({ path: screenshot, fullPage: false });
  result = await read();
  process.stdout.write(
    JSON.stringify({ ...result, ready: ready(result), renderedMs, consoleErrors }) + '\n',
  );
} finally {
  await browser.close();
}
