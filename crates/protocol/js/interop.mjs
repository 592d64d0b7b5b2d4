// Two-way interop with @interledger/http-signature-utils (the reference signer and verifier).
//
// Usage: GRANTFLOW_JS_MODULES=<node_modules> node interop.mjs verify <cases.json>
//   cases: { jwk, requests: [{ name, method, url, headers, body? }] } (headers lower-case)
//   prints [{ name, headersValid, signatureValid }] from validateSignatureHeaders/validateSignature.
// Usage: GRANTFLOW_JS_MODULES=<node_modules> node interop.mjs sign <cases.json>
//   cases: { privateKeyPem, keyId, requests: [{ name, method, url, headers, body? }] }
//   prints [{ name, headers }] with the headers createHeaders returned (as the SDK sends them).
import { createRequire } from 'node:module'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

const modules = process.env.GRANTFLOW_JS_MODULES
if (!modules) {
  console.error('GRANTFLOW_JS_MODULES is not set')
  process.exit(2)
}
const require = createRequire(path.join(modules, 'noop.js'))
const hsu = require('@interledger/http-signature-utils')

const [mode, file] = process.argv.slice(2)
const input = JSON.parse(fs.readFileSync(file, 'utf8'))
const out = []
if (mode === 'verify') {
  for (const r of input.requests) {
    const request = { method: r.method, url: r.url, headers: r.headers, body: r.body ?? undefined }
    const headersValid = hsu.validateSignatureHeaders(request)
    let signatureValid = false
    try {
      signatureValid = await hsu.validateSignature(input.jwk, request)
    } catch (e) {
      signatureValid = false
    }
    out.push({ name: r.name, headersValid, signatureValid })
  }
} else if (mode === 'sign') {
  const privateKey = crypto.createPrivateKey(input.privateKeyPem)
  for (const r of input.requests) {
    const request = { method: r.method, url: r.url, headers: r.headers, body: r.body ?? undefined }
    const headers = await hsu.createHeaders({ request, privateKey, keyId: input.keyId })
    out.push({ name: r.name, headers })
  }
} else {
  console.error(`unknown mode ${mode}`)
  process.exit(2)
}
process.stdout.write(JSON.stringify(out))
