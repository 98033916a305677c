// Browser test of the API reference page, run by cmd/movierec/browser_test.go:
//
//   node scripts/browser/docs-page.js BASE_URL [SCREENSHOT.png]
//
// Opens BASE_URL/api/docs/ in headless Chromium (/usr/bin/chromium, or
// $CHROMIUM), checks that every operation of /api/schema/ is rendered, that
// "try it out" on GET /api/movies/popular/ gets a 200 from this server, that
// no request left the server's origin and that the console stayed free of
// errors. Prints one JSON line with what it saw; exits 1 on any failure.
const { launch, watch } = require('./lib');

async function main() {
  const [base, shot] = process.argv.slice(2);
  if (!base) throw new Error('usage: docs-page.js BASE_URL [SCREENSHOT.png]');
  const origin = new URL(base).origin;
  const schema = await (await fetch(base + '/api/schema/')).json();
  let operations = 0;
  for (const item of Object.values(schema.paths)) {
    operations += Object.keys(item).filter((k) => ['get', 'post', 'put', 'patch', 'delete'].includes(k)).length;
  }
  const { ctx, problems, close } = await launch();
  const seen = { operations, rendered: 0, tryItStatus: '', foreignRequests: [] };
  try {
    const page = await ctx.newPage();
    watch(page, problems);
    page.on('request', (r) => {
      const u = r.url();
      if (!u.startsWith(origin) && !u.startsWith('data:')) seen.foreignRequests.push(u);
    });
    const res = await page.goto(base + '/api/docs/');
    if (!res.ok()) problems.push('GET /api/docs/: ' + res.status());
    await page.waitForSelector('.opblock', { timeout: 30000 });
    seen.rendered = await page.locator('.opblock').count();
    if (seen.rendered !== operations) problems.push(`rendered ${seen.rendered} operations, the schema has ${operations}`);
    const op = page.locator('#operations-Movies-listPopularMovies');
    await op.locator('.opblock-summary').click();
    await op.locator('button.try-out__btn').click();
    await op.locator('button.execute').click();
    const status = op.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor({ timeout: 15000 });
    seen.tryItStatus = (await status.innerText()).trim();
    if (seen.tryItStatus !== '200') problems.push('try it out: status ' + seen.tryItStatus);
    if (seen.foreignRequests.length) problems.push('requests to other origins: ' + seen.foreignRequests.join(' '));
    if (shot) {
      await op.locator('.opblock-summary').click(); // fold it again
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: shot });
    }
  } finally {
    await close();
  }
  console.log(JSON.stringify({ ...seen, problems }));
  if (problems.length) process.exit(1);
}

main().catch((e) => { console.error(String(e && e.stack || e)); process.exit(1); });
