// Shared helpers of the browser tests: launch Debian's Chromium headless
// with a fresh profile, collect console errors, run axe-core.
const { chromium } = require('playwright-core');
const fs = require('fs');
const os = require('os');
const path = require('path');

async function launch() {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'movierec-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // axe is injected as a script; the pages' CSP would (rightly) refuse it.
    bypassCSP: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
    viewport: { width: 1200, height: 900 },
  });
  const problems = [];
  const close = async () => {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  };
  return { ctx, problems, close };
}

function watch(page, problems) {
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('pageerror', (e) => problems.push('page error: ' + e));
}

// axe runs axe-core's WCAG 2 A/AA rules on the page and records violations.
async function axe(page, problems, what) {
  await page.addScriptTag({ path: require.resolve('axe-core/axe.min.js') });
  const result = await page.evaluate(async () => window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa'] }));
  for (const v of result.violations) {
    problems.push(`axe on ${what}: ${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
  }
}

module.exports = { launch, watch, axe };
