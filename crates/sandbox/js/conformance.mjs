// Conformance of the grantflow sandbox against the reference client, @interledger/open-payments
// 7.4.0, with response validation on (every response is checked against the package's OpenAPI
// specs) and useHttp (the sandbox is plain HTTP on loopback).
//
// Usage: GRANTFLOW_JS_MODULES=<node_modules> node conformance.mjs <sandbox base URL>
//
// Walks the seed flows: wallet address get; incoming-payment grant and incoming payment; quote
// grant and quote; the outgoing-payment grant request with a debitAmount limit and the seed's
// interval; approval through the sandbox's interaction API; the finish hash checked here; continue
// with the interact_ref (too_fast first, as the reference answers within `wait`); outgoing payment
// create; spent amounts; token rotate; revoke; cancel; a grant in polling mode. Then the negative
// run: a badly signed request must be refused with the reference's status and code.
//
// Prints one line per step; exits 1 with the reason on the first failure.
import { createRequire } from 'node:module'
import crypto from 'node:crypto'
import path from 'node:path'

const modules = process.env.GRANTFLOW_JS_MODULES
const base = process.argv[2]
if (!modules || !base) {
  console.error('usage: GRANTFLOW_JS_MODULES=<node_modules> node conformance.mjs <sandbox base URL>')
  process.exit(2)
}
const require = createRequire(path.join(modules, 'noop.js'))
const op = require('@interledger/open-payments')

const step = (name, detail = '') => console.log(`ok   ${name}${detail ? ': ' + detail : ''}`)
const fail = (message) => {
  throw new Error(message)
}
const expect = (cond, message) => {
  if (!cond) fail(message)
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function expectRefusal(name, promise, status, code) {
  try {
    await promise
  } catch (e) {
    expect(e instanceof op.OpenPaymentsClientError, `${name}: not an OpenPaymentsClientError: ${e}`)
    expect(
      e.status === status && e.code === code,
      `${name}: expected ${status} ${code}, got ${e.status} ${e.code} (${e.description})`
    )
    step(name, `${e.status} ${e.code} "${e.description}"`)
    return e
  }
  fail(`${name}: expected ${status} ${code}, but the request succeeded`)
}

async function admin(method, urlPath, body) {
  const r = await fetch(`${base}${urlPath}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await r.text()
  if (!r.ok) fail(`${method} ${urlPath}: HTTP ${r.status} ${text}`)
  return text ? JSON.parse(text) : undefined
}

async function main() {
  // The client's identity: a fresh Ed25519 key, published at a wallet address the sandbox hosts.
  const { privateKey } = crypto.generateKeyPairSync('ed25519')
  const keyId = 'conformance-key'
  const hsu = require('@interledger/http-signature-utils')
  const jwk = hsu.generateJwk({ privateKey, keyId })
  const clientWallet = (
    await admin('PUT', '/_sandbox/wallet-addresses/conformance-client', {
      publicName: 'Conformance Client',
      keys: [jwk]
    })
  ).id
  const client = await op.createAuthenticatedClient({
    walletAddressUrl: clientWallet,
    privateKey,
    keyId,
    validateResponses: true,
    useHttp: true
  })

  // Wallet addresses.
  const sender = await client.walletAddress.get({ url: `${base}/alice` })
  const receiver = await client.walletAddress.get({ url: `${base}/bob` })
  expect(sender.authServer && sender.resourceServer, 'wallet address lacks authServer/resourceServer')
  step('walletAddress.get', `${sender.id} -> authServer ${sender.authServer}`)
  const keys = await client.walletAddress.getKeys({ url: clientWallet })
  expect(keys.keys[0].kid === keyId, 'jwks.json does not publish the client key')
  step('walletAddress.getKeys')

  // Incoming payment grant (issued at once) and incoming payment.
  const incomingGrant = await client.grant.request(
    { url: receiver.authServer },
    {
      access_token: {
        access: [{ type: 'incoming-payment', actions: ['create', 'read', 'list', 'complete'] }]
      }
    }
  )
  expect(op.isFinalizedGrantWithAccessToken(incomingGrant), 'incoming-payment grant not issued at once')
  step('grant.request incoming-payment', `expires_in ${incomingGrant.access_token.expires_in}`)
  const incomingPayment = await client.incomingPayment.create(
    { url: receiver.resourceServer, accessToken: incomingGrant.access_token.value },
    {
      walletAddress: receiver.id,
      incomingAmount: { value: '500', assetCode: receiver.assetCode, assetScale: receiver.assetScale },
      metadata: { description: 'conformance' }
    }
  )
  step('incomingPayment.create', incomingPayment.id)
  const fetched = await client.incomingPayment.get({
    url: incomingPayment.id,
    accessToken: incomingGrant.access_token.value
  })
  expect(fetched.id === incomingPayment.id, 'incomingPayment.get returned another payment')
  step('incomingPayment.get')
  const publicView = await client.incomingPayment.getPublic({ url: incomingPayment.id })
  expect(publicView.authServer === receiver.authServer, 'public incoming payment lacks authServer')
  step('incomingPayment.getPublic')
  const spare = await client.incomingPayment.create(
    { url: receiver.resourceServer, accessToken: incomingGrant.access_token.value },
    { walletAddress: receiver.id }
  )
  const completed = await client.incomingPayment.complete({
    url: spare.id,
    accessToken: incomingGrant.access_token.value
  })
  expect(completed.completed === true, 'incomingPayment.complete did not complete')
  step('incomingPayment.complete')
  const listed = await client.incomingPayment.list(
    { url: receiver.resourceServer, accessToken: incomingGrant.access_token.value, walletAddress: receiver.id },
    { first: 10 }
  )
  expect(listed.result.length === 2, `incomingPayment.list: ${listed.result.length} payments`)
  step('incomingPayment.list', `${listed.result.length} payments`)

  // Quote grant and quote.
  const quoteGrant = await client.grant.request(
    { url: sender.authServer },
    { access_token: { access: [{ type: 'quote', actions: ['create', 'read'] }] } }
  )
  expect(op.isFinalizedGrantWithAccessToken(quoteGrant), 'quote grant not issued at once')
  step('grant.request quote')
  const quote = await client.quote.create(
    { url: sender.resourceServer, accessToken: quoteGrant.access_token.value },
    { walletAddress: sender.id, receiver: incomingPayment.id, method: 'ilp' }
  )
  step('quote.create', `debit ${quote.debitAmount.value} ${quote.debitAmount.assetCode}`)
  const quoteAgain = await client.quote.get({ url: quote.id, accessToken: quoteGrant.access_token.value })
  expect(quoteAgain.id === quote.id, 'quote.get returned another quote')
  step('quote.get')

  // The seed: outgoing-payment grant with a debitAmount limit and an interval, interactive.
  const NONCE = crypto.randomUUID()
  const FINISH_URI = 'http://localhost:3344'
  const pending = await client.grant.request(
    { url: sender.authServer },
    {
      access_token: {
        access: [
          {
            identifier: sender.id,
            type: 'outgoing-payment',
            actions: ['list', 'list-all', 'read', 'read-all', 'create'],
            limits: {
              debitAmount: {
                assetCode: quote.debitAmount.assetCode,
                assetScale: quote.debitAmount.assetScale,
                value: quote.debitAmount.value
              },
              interval: 'R/2016-08-24T08:00:00Z/P1D'
            }
          }
        ]
      },
      interact: {
        start: ['redirect'],
        finish: { method: 'redirect', uri: FINISH_URI, nonce: NONCE }
      }
    }
  )
  expect(op.isPendingGrant(pending), 'outgoing-payment grant is not pending')
  step('grant.request outgoing-payment', `redirect ${pending.interact.redirect}`)

  // Approval through the interaction API, then the finish redirect's hash.
  const interactionId = new URL(pending.interact.redirect).pathname.split('/interact/')[1].split('/')[0]
  const outcome = await admin('POST', `/_sandbox/interactions/${interactionId}/approve`)
  const finish = new URL(outcome.redirect)
  expect(finish.origin + finish.pathname === FINISH_URI + '/', `finish redirect to ${finish}`)
  const hash = finish.searchParams.get('hash')
  const interactRef = finish.searchParams.get('interact_ref')
  const expected = crypto
    .createHash('sha256')
    .update(`${NONCE}\n${pending.interact.finish}\n${interactRef}\n${sender.authServer}`)
    .digest('base64')
  expect(hash === expected, `finish hash ${hash} != ${expected}`)
  step('interaction approved', 'finish hash verified')

  // Continue within `wait`: too_fast, as the reference answers; then after the wait.
  const continueArgs = { url: pending.continue.uri, accessToken: pending.continue.access_token.value }
  await expectRefusal(
    'grant.continue within wait',
    client.grant.continue(continueArgs, { interact_ref: interactRef }),
    400,
    'too_fast'
  )
  await sleep((pending.continue.wait ?? 5) * 1000 + 100)
  const grant = await client.grant.continue(continueArgs, { interact_ref: interactRef })
  expect(op.isFinalizedGrantWithAccessToken(grant), 'continue did not issue a token')
  step('grant.continue', `expires_in ${grant.access_token.expires_in}`)
  await expectRefusal(
    'grant.continue again (single-use interact_ref)',
    client.grant.continue(continueArgs, { interact_ref: interactRef }),
    401,
    'request_denied'
  )

  // Outgoing payment within the limit.
  const payment = await client.outgoingPayment.create(
    { url: sender.resourceServer, accessToken: grant.access_token.value },
    { walletAddress: sender.id, quoteId: quote.id, metadata: { note: 'seed flow' } }
  )
  step('outgoingPayment.create', `sent ${payment.sentAmount.value}`)
  const spent = await client.outgoingPayment.getGrantSpentAmounts({
    url: sender.resourceServer,
    accessToken: grant.access_token.value
  })
  expect(spent.spentDebitAmount.value === quote.debitAmount.value, `spent ${JSON.stringify(spent)}`)
  step('outgoingPayment.getGrantSpentAmounts', `spent ${spent.spentDebitAmount.value}`)
  const paid = await client.incomingPayment.get({
    url: incomingPayment.id,
    accessToken: incomingGrant.access_token.value
  })
  expect(paid.receivedAmount.value === '500' && paid.completed, `receiver shows ${JSON.stringify(paid)}`)
  step('incoming payment received the money')

  // Token rotation: new value and manage URL; the old token is inactive.
  const rotated = await client.token.rotate({
    url: grant.access_token.manage,
    accessToken: grant.access_token.value
  })
  expect(
    rotated.access_token.value !== grant.access_token.value &&
      rotated.access_token.manage !== grant.access_token.manage,
    'rotation returned the same token or manage URL'
  )
  step('token.rotate')
  const outgoing = await client.outgoingPayment.get({
    url: payment.id,
    accessToken: rotated.access_token.value
  })
  expect(outgoing.id === payment.id, 'outgoingPayment.get returned another payment')
  step('outgoingPayment.get (rotated token)')
  const page = await client.outgoingPayment.list(
    { url: sender.resourceServer, accessToken: rotated.access_token.value, walletAddress: sender.id },
    { first: 10 }
  )
  expect(page.result.length === 1, `outgoingPayment.list: ${page.result.length}`)
  step('outgoingPayment.list (rotated token)')
  await expectRefusal(
    'outgoingPayment.get with the rotated-away token',
    client.outgoingPayment.get({ url: payment.id, accessToken: grant.access_token.value }),
    403,
    'forbidden'
  )
  await expectRefusal(
    'token.rotate of the old token again',
    client.token.rotate({ url: grant.access_token.manage, accessToken: grant.access_token.value }),
    401,
    'invalid_client'
  )

  // Revoke and cancel.
  await client.token.revoke({ url: rotated.access_token.manage, accessToken: rotated.access_token.value })
  step('token.revoke')
  await client.grant.cancel(continueArgs)
  step('grant.cancel')
  await expectRefusal('grant.cancel again', client.grant.cancel(continueArgs), 401, 'invalid_continuation')

  // Polling mode (no finish URI): a bodiless continue answers {continue} until the grant is
  // approved, then the token.
  const polled = await client.grant.request(
    { url: sender.authServer },
    {
      access_token: {
        access: [
          {
            identifier: sender.id,
            type: 'outgoing-payment',
            actions: ['create', 'read'],
            limits: { debitAmount: { value: '100', assetCode: sender.assetCode, assetScale: sender.assetScale } }
          }
        ]
      },
      interact: { start: ['redirect'] }
    }
  )
  expect(op.isPendingGrant(polled), 'polling-mode grant is not pending')
  const pollArgs = { url: polled.continue.uri, accessToken: polled.continue.access_token.value }
  const waitMs = (polled.continue.wait ?? 5) * 1000 + 100
  await expectRefusal('grant.continue poll within wait', client.grant.continue(pollArgs), 400, 'too_fast')
  await sleep(waitMs)
  const stillPending = await client.grant.continue(pollArgs)
  expect(!op.isFinalizedGrantWithAccessToken(stillPending) && stillPending.continue, 'poll before approval')
  step('grant.continue poll (pending)', `wait ${stillPending.continue.wait}`)
  const pollId = new URL(polled.interact.redirect).pathname.split('/interact/')[1].split('/')[0]
  const pollOutcome = await admin('POST', `/_sandbox/interactions/${pollId}/approve`)
  expect(pollOutcome.redirect === null, 'a grant without finish URI got a finish redirect')
  await sleep(waitMs)
  const polledGrant = await client.grant.continue(pollArgs)
  expect(op.isFinalizedGrantWithAccessToken(polledGrant), 'poll after approval did not issue a token')
  step('grant.continue poll (approved)')
  await client.grant.cancel(pollArgs)
  step('grant.cancel (polled grant)')

  // Negative run: a badly signed request (a key the client's wallet address does not publish,
  // under the published key id) is refused as the reference refuses it.
  const { privateKey: wrongKey } = crypto.generateKeyPairSync('ed25519')
  const impostor = await op.createAuthenticatedClient({
    walletAddressUrl: clientWallet,
    privateKey: wrongKey,
    keyId,
    validateResponses: true,
    useHttp: true
  })
  await expectRefusal(
    'badly signed grant request',
    impostor.grant.request(
      { url: sender.authServer },
      { access_token: { access: [{ type: 'quote', actions: ['create'] }] } }
    ),
    401,
    'invalid_client'
  )
  console.log('conformance: all steps passed')
}

main().catch((e) => {
  console.error(`FAIL ${e.message}`)
  if (e.validationErrors) console.error(JSON.stringify(e.validationErrors, null, 2))
  if (e.description) console.error(`description: ${e.description}`)
  process.exit(1)
})
