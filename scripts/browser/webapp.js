// Browser test of the web app, run by cmd/movierec/browser_test.go:
//
//   node scripts/browser/webapp.js BASE_URL [SCREENSHOT.png]
//
// A new visitor signs up, searches, opens a movie, rates it, and sees
// "Recommended for you" change; pages pass axe-core's WCAG 2 A/AA rules and
// log no console errors; HTML+CSS stay under 100 KB a page. Prints one JSON
// line; exits 1 on any failure.
const { launch, watch, axe } = require('./lib');

async function main() {
  const [base, shot] = process.argv.slice(2);
  if (!base) throw new Error('usage: webapp.js BASE_URL [SCREENSHOT.png]');
  const { ctx, problems, close } = await launch();
  const seen = {};
  try {
    const page = await ctx.newPage();
    watch(page, problems);
    const weights = {};
    page.on('response', async (res) => {
      const type = res.headers()['content-type'] || '';
      if (type.startsWith('text/html') || type.startsWith('text/css')) {
        try { weights[res.url()] = (await res.body()).length; } catch (e) { /* redirects have none */ }
      }
    });
    await page.goto(base + '/');
    await axe(page, problems, 'home (signed out)');

    // Sign up.
    const name = 'visitor' + Date.now().toString(36);
    await page.getByRole('link', { name: 'Sign up' }).first().click();
    await page.getByLabel('Username').fill(name);
    await page.getByLabel('Email').fill(name + '@example.com');
    await page.getByLabel('Password (8 characters or more)').fill('a long secret');
    await page.getByLabel('Password again').fill('a long secret');
    await axe(page, problems, 'sign up');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForSelector('#recommendations li');
    seen.signedIn = await page.getByRole('link', { name: name + '’s ratings' }).isVisible();
    if (!seen.signedIn) problems.push('not signed in after signing up');
    const before = await page.locator('#recommendations li .title').allInnerTexts();
    seen.recommendedBefore = before.slice(0, 5);
    await axe(page, problems, 'home (signed in)');

    // Search, open the first result.
    await page.getByLabel('Search movies').fill('the');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForSelector('#results li');
    seen.searchResults = await page.locator('#results li').count();
    await axe(page, problems, 'search results');
    const first = page.locator('#results li .title').first();
    seen.opened = await first.innerText();
    await first.click();
    await page.waitForSelector('h1');
    await axe(page, problems, 'movie page');

    // Rate it 5.
    await page.getByLabel('Score').selectOption('5');
    await page.getByRole('button', { name: /^(Rate|Change rating)$/ }).click();
    await page.waitForSelector('.note');
    seen.note = await page.locator('.note').innerText();
    if (!/rating is saved/.test(seen.note)) problems.push('no confirmation after rating: ' + seen.note);

    // Recommended for you changed.
    await page.goto(base + '/');
    await page.waitForSelector('#recommendations li');
    const after = await page.locator('#recommendations li .title').allInnerTexts();
    seen.recommendedAfter = after.slice(0, 5);
    if (after.join('|') === before.join('|')) problems.push('"Recommended for you" did not change after a rating');
    if (after.includes(seen.opened)) problems.push('the movie just rated is recommended');
    const reasons = await page.locator('#recommendations li .reason').allInnerTexts();
    if (!reasons.length || reasons.some((r) => !r.trim())) problems.push('recommendations without reasons');

    // My ratings lists it.
    await page.getByRole('link', { name: name + '’s ratings' }).click();
    if (!(await page.getByText(seen.opened).first().isVisible())) problems.push('my ratings does not list ' + seen.opened);
    await axe(page, problems, 'my ratings');
    if (shot) {
      await page.goto(base + '/');
      await page.screenshot({ path: shot });
    }
    seen.heaviest = Math.max(...Object.values(weights));
    for (const [u, n] of Object.entries(weights)) {
      if (n > 100 * 1024) problems.push(`${u} weighs ${n} bytes (over 100 KB)`);
    }
  } finally {
    await close();
  }
  console.log(JSON.stringify({ ...seen, problems }));
  if (problems.length) process.exit(1);
}

main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
