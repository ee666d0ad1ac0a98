'use strict'
// The self-service demo page in a real browser: Debian's Chromium, driven by
// playwright-core, against the Express demo and the FastAPI demo on
// 127.0.0.1. A missing Chromium fails the test; it never skips.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const path = require('node:path')
const { chromium } = require('playwright-core')
const { REPO, tempDb, pythonPath } = require('./helpers')

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium'
const ARTIFACTS = path.join(REPO, 'target', 'test-artifacts')
const KEY = /^[A-Za-z0-9]+_[A-Za-z0-9]{14}_[A-Za-z0-9]{40,}$/
const ANY_KEY = /[A-Za-z0-9]+_[A-Za-z0-9]{14}_[A-Za-z0-9]{40,}/
// Chromium's background services would dial out of a closed network; a
// fresh profile per run keeps runs independent.
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync']

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
    srv.on('error', reject)
  })
}

async function startDemo(t, kind) {
  const port = await freePort()
  const command = kind === 'express'
    ? [process.execPath, path.join(REPO, 'bindings-node', 'examples', 'self-service', 'server.js')]
    : [pythonPath(), path.join(REPO, 'bindings-python', 'examples', 'self_service.py')]
  assert.ok(fs.existsSync(command[0]), `${command[0]} is missing (make test-python creates the venv)`)
  const env = { ...process.env, PORT: String(port), KEYHOUSE_DB: tempDb(t) }
  const child = spawn(command[0], command.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (d) => { output += d })
  child.stderr.on('data', (d) => { output += d })
  t.after(() => child.kill('SIGKILL'))
  const url = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) assert.fail(`the ${kind} demo exited: ${output}`)
    try {
      await fetch(url + '/me')
      return { url, output: () => output }
    } catch {
      if (i > 300) assert.fail(`the ${kind} demo did not start: ${output}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

async function callWith(url, key) {
  return (await fetch(url + '/api/data', { headers: { 'x-api-key': key } })).status
}

async function signIn(browser, url, user) {
  const context = await browser.newContext()
  const page = await context.newPage()
  await page.goto(url + '/')
  await page.getByTestId('user').fill(user)
  await page.getByTestId('signin').click()
  await page.getByTestId('who').filter({ hasText: user }).waitFor()
  return page
}

async function createKey(page, name) {
  // A key created earlier may still be on show: wait for a different one.
  const secret = page.getByTestId('secret-key')
  const before = (await secret.isVisible()) ? (await secret.textContent()).trim() : null
  await page.getByTestId('name').fill(name)
  await page.getByTestId('create').click()
  const shown = before ? secret.filter({ hasNotText: before }) : secret
  await shown.waitFor()
  const key = (await shown.textContent()).trim()
  assert.match(key, KEY)
  return key
}

function row(page, key) {
  return page.locator(`tr[data-id="${key.split('_')[1]}"]`)
}

for (const kind of ['express', 'fastapi']) {
  test(`the self-service page on ${kind}, in Chromium`, async (t) => {
    assert.ok(fs.existsSync(CHROMIUM), `no Chromium at ${CHROMIUM}: install Debian's chromium (.ci/run does)`)
    const demo = await startDemo(t, kind)
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
    t.after(() => browser.close())

    // Sign in, create a key, read it off the page; it works.
    const alice = await signIn(browser, demo.url, 'alice')
    const key = await createKey(alice, 'Production API')
    await row(alice, key).getByText('active').waitFor()
    assert.equal(await callWith(demo.url, key), 200)

    fs.mkdirSync(ARTIFACTS, { recursive: true })
    await alice.screenshot({ path: path.join(ARTIFACTS, `self-service-${kind}.png`), fullPage: true })

    // Revoke it in the page: the next call is refused.
    await row(alice, key).getByTestId('revoke').click()
    await row(alice, key).getByText('revoked').waitFor()
    assert.equal(await callWith(demo.url, key), 401)

    // Roll a second key in the page: the new key works, the old one stops.
    const second = await createKey(alice, 'CI')
    await row(alice, second).getByTestId('roll').click()
    await alice.getByTestId('secret-key').filter({ hasNotText: second }).waitFor()
    const rolled = (await alice.getByTestId('secret-key').textContent()).trim()
    assert.match(rolled, KEY)
    assert.equal(await callWith(demo.url, rolled), 200)
    assert.equal(await callWith(demo.url, second), 401)

    // After a reload no key is shown again, anywhere on the page.
    await alice.reload()
    await row(alice, rolled).waitFor()
    assert.equal(await alice.getByTestId('secret').isVisible(), false)
    const html = await alice.content()
    for (const k of [key, second, rolled]) assert.ok(!html.includes(k), 'a key reappeared after reload')

    // Another user, in another browser context, sees none of alice's keys.
    const bob = await signIn(browser, demo.url, 'bob')
    await bob.locator('#empty').waitFor()
    assert.equal(await bob.locator('tbody tr').count(), 0)
    const bobHtml = await bob.content()
    for (const k of [key, second, rolled]) assert.ok(!bobHtml.includes(k.split('_')[1]))

    assert.ok(!ANY_KEY.test(demo.output()), `a key reached the server output:\n${demo.output()}`)
  })
}
