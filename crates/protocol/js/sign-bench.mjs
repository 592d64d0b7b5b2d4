// Times sign + digest of a typical grant request with @interledger/http-signature-utils
// createHeaders (Content-Digest, Content-Length, Content-Type, Signature, Signature-Input),
// the same operation as the Rust criterion bench `sign_grant_request`.
//
// Usage: GRANTFLOW_JS_MODULES=<node_modules> node sign-bench.mjs <body.json> [seconds]
// Prints JSON: { iterations, total_ns, ns_per_op }.
import { createRequire } from 'node:module'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

const require = createRequire(path.join(process.env.GRANTFLOW_JS_MODULES, 'noop.js'))
const hsu = require('@interledger/http-signature-utils')

const body = fs.readFileSync(process.argv[2], 'utf8')
const seconds = Number(process.argv[3] ?? 3)
const seed = Buffer.from('9e13a37e86dd215eda83acda0d88ccd8fdb161ea0062ced8f1d32e4320a4678b', 'hex')
const privateKey = crypto.createPrivateKey({
  key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
  format: 'der',
  type: 'pkcs8'
})
const request = {
  method: 'POST',
  url: 'https://auth.wallet.example/',
  headers: { 'content-type': 'application/json', accept: 'application/json' },
  body
}
const once = () => hsu.createHeaders({ request, privateKey, keyId: 'bench-key' })

// Warm up the JIT, then run batches until the time budget is spent.
const warmEnd = process.hrtime.bigint() + 1_000_000_000n
while (process.hrtime.bigint() < warmEnd) await once()
const budget = BigInt(Math.round(seconds * 1e9))
const start = process.hrtime.bigint()
let iterations = 0
while (process.hrtime.bigint() - start < budget) {
  for (let i = 0; i < 100; i++) await once()
  iterations += 100
}
const total = process.hrtime.bigint() - start
process.stdout.write(
  JSON.stringify({ iterations, total_ns: Number(total), ns_per_op: Number(total) / iterations })
)
