// The operator console in a real browser: Debian's Chromium, driven by playwright-core over CDP.
// Started by tests/console_browser.rs, which runs the sandbox and `grantflow worker` processes on
// PostgreSQL and passes what it set up.
//
// Usage: GRANTFLOW_JS_MODULES=<node_modules with playwright-core> node console_browser.mjs \
//          <console URL> <screenshot dir> <JSON: {killed, waiting, token}>
//
// Steps: the list (lang, title, every field labelled, the skip link first from the keyboard);
// the pages and the filter with the script blocked;
// filter by state with the form; open the grant whose worker was killed mid-continue and see its
// resumed timeline and path; sign in in a second tab, revoke the grant there with its
// confirmation, and see the grant's tab and a list tab (neither reloaded) show the new state from
// the event stream.
// Prints one line per step; exits 1 with the reason on the first failure.
import { createRequire } from 'node:module'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const modules = process.env.GRANTFLOW_JS_MODULES
const [consoleUrl, shots, given] = process.argv.slice(2)
if (!modules || !consoleUrl || !shots || !given) {
  console.error('usage: GRANTFLOW_JS_MODULES=<node_modules> node console_browser.mjs <console URL> <screenshot dir> <JSON>')
  process.exit(2)
}
const { killed, waiting, token } = JSON.parse(given)
const require = createRequire(path.join(modules, 'noop.js'))
const { chromium } = require('playwright-core')

const step = (name, detail = '') => console.log(`ok   ${name}${detail ? ': ' + detail : ''}`)
const check = (cond, message) => { if (!cond) throw new Error(message) }
fs.mkdirSync(shots, { recursive: true })
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'grantflow-chromium-'))

// playwright passes --user-data-dir itself for a persistent context: a fresh one per run.
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1200, height: 860 },
  timeout: 60000,
})
context.setDefaultTimeout(30000)
const errors = []
try {
  const page = context.pages()[0] ?? await context.newPage()
  page.on('pageerror', (e) => errors.push(String(e)))
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()) })
  context.on('response', (r) => { if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`) })

  // 1. The list.
  await page.goto(consoleUrl)
  check(await page.title() === 'Grants · grantflow console', `title: ${await page.title()}`)
  check(await page.getAttribute('html', 'lang') === 'en', 'no lang')
  const rows = await page.locator('#grants tbody tr').count()
  check(rows >= 3, `${rows} rows`)
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input:not([type=hidden]), select')]
    .filter((e) => e.labels.length === 0).map((e) => e.name))
  check(unlabelled.length === 0, `fields without a label: ${unlabelled}`)
  await page.keyboard.press('Tab')
  const first = await page.evaluate(() => document.activeElement.textContent)
  check(first.includes('Skip to the content'), `first Tab stop: ${first}`)
  await page.screenshot({ path: path.join(shots, '1-list.png') })
  step('list', `${rows} grants, every field labelled, the skip link first`)

  // 2. Filter by state with the form (keyboard: the select, then the button).
  await page.selectOption('#f-state', 'Issued')
  await page.getByRole('button', { name: 'Filter' }).press('Enter')
  await page.waitForURL(/state=Issued/)
  const states = await page.locator('#grants tbody tr .state').allTextContents()
  check(states.length >= 1 && states.every((s) => s === 'Issued'), `states after the filter: ${states}`)
  check(await page.locator(`#grant-${killed}`).count() === 1, 'the resumed grant is not listed as Issued')
  check(await page.locator(`#grant-${waiting}`).count() === 0, 'the waiting grant is listed as Issued')
  await page.screenshot({ path: path.join(shots, '2-filtered.png') })
  step('filter', `state=Issued: ${states.length} grants`)

  // 3. The grant whose worker was killed mid-continue: its timeline shows the resumption.
  await page.locator(`#grant-${killed} a`).click()
  await page.waitForURL(new RegExp(`/grants/${killed}$`))
  const timeline = await page.locator('#timeline').innerText()
  for (const edge of ['FinishVerified', 'ContinueResumed', 'ContinueIssued']) {
    check(timeline.includes(edge), `${edge} not in the timeline:\n${timeline}`)
  }
  const caption = await page.locator('figure.diagram figcaption').innerText()
  check(caption.includes('Continuing → Issued'), `path: ${caption}`)
  check(await page.locator('svg .edge.taken').count() >= 4, 'no taken arrows in the diagram')
  await page.locator('.live', { hasText: 'Live:' }).waitFor()
  await page.screenshot({ path: path.join(shots, '3-grant.png'), fullPage: true })
  await page.locator('#timeline').scrollIntoViewIfNeeded()
  await page.screenshot({ path: path.join(shots, '3-timeline.png') })
  await page.locator('figure.diagram').screenshot({ path: path.join(shots, '3-diagram.png') })
  step('resumed grant', 'FinishVerified, ContinueResumed, ContinueIssued; path marked')

  // Without the script (as with JavaScript off), the pages and the filter form still work.
  const plain = await context.newPage()
  await plain.route('**/assets/console.js', (route) => route.abort())
  await plain.goto(`${consoleUrl}?state=Issued`)
  check(await plain.locator(`#grant-${killed}`).count() === 1, 'no-script list: the filter did not apply')
  await plain.goto(`${consoleUrl}/grants/${killed}`)
  check((await plain.locator('#timeline').innerText()).includes('ContinueResumed'), 'no-script: no timeline')
  check(await plain.locator('.live').innerText() === '', 'no-script: the live status was set without the script')
  await plain.close()
  step('no script', 'the list, the filter and the timeline are served as HTML')

  // 4. Revoke from a second tab; the first (never reloaded) shows it from the event stream, and
  // so does a third on the list.
  await page.evaluate(() => { window.__notReloaded = true })
  const list = await context.newPage()
  list.on('pageerror', (e) => errors.push(String(e)))
  await list.goto(consoleUrl)
  await list.locator('.live', { hasText: 'Live:' }).waitFor()
  await list.evaluate(() => { window.__notReloaded = true })
  const tab = await context.newPage()
  tab.on('pageerror', (e) => errors.push(String(e)))
  await tab.goto(`${consoleUrl}/login?next=${encodeURIComponent(new URL(page.url()).pathname)}`)
  await tab.fill('#token', token)
  await tab.getByRole('button', { name: 'Sign in' }).click()
  await tab.waitForURL(new RegExp(`/grants/${killed}$`))
  await tab.getByRole('link', { name: 'Revoke…' }).click()
  await tab.waitForURL(new RegExp(`/grants/${killed}/revoke$`))
  await tab.screenshot({ path: path.join(shots, '4-confirm.png') })
  await tab.getByRole('button', { name: 'Revoke the grant' }).click()
  await tab.waitForURL(new RegExp(`/grants/${killed}$`))
  step('revoke', 'signed in, confirmed, posted')
  await page.waitForFunction(() => document.querySelector('main h1 .state')?.textContent === 'Revoked',
    null, { timeout: 30000 })
  check(await page.evaluate(() => window.__notReloaded === true), 'the first tab was reloaded')
  const after = await page.locator('#timeline').innerText()
  check(after.includes('RevokeOnCommand'), `RevokeOnCommand not in the live timeline:\n${after}`)
  await page.screenshot({ path: path.join(shots, '5-live.png') })
  await list.waitForFunction((id) => document.querySelector(`#grant-${id} .state`)?.textContent === 'Revoked',
    killed, { timeout: 30000 })
  check(await list.evaluate(() => window.__notReloaded === true), 'the list was reloaded')
  await list.screenshot({ path: path.join(shots, '6-live-list.png') })
  step('live', 'the grant tab and the list tab show Revoked without a reload')
  check(errors.length === 0, `browser errors: ${errors.join('; ')}`)
  console.log('console browser: all steps passed')
} finally {
  await context.close()
  fs.rmSync(userDataDir, { recursive: true, force: true })
}
