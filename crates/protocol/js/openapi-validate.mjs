// Validates JSON bodies against the OpenAPI 3.1 specs shipped in @interledger/open-payments,
// with the package's own validators (the ones the reference servers run).
//
// Usage: GRANTFLOW_JS_MODULES=<node_modules> node openapi-validate.mjs <cases.json>
// cases.json: [{ name, spec: "auth"|"resource"|"wallet", path: "/continue/{id}", method: "post",
//                kind: "request"|"response", status?: 200, body }]
// Prints one JSON array to stdout: [{ name, valid, errors? }].
import { createRequire } from 'node:module'
import fs from 'node:fs'
import path from 'node:path'

const modules = process.env.GRANTFLOW_JS_MODULES
if (!modules) {
  console.error('GRANTFLOW_JS_MODULES is not set')
  process.exit(2)
}
const require = createRequire(path.join(modules, 'noop.js'))
const op = require('@interledger/open-payments')

const specs = {
  auth: await op.getAuthServerOpenAPI(),
  resource: await op.getResourceServerOpenAPI(),
  wallet: await op.getWalletAddressServerOpenAPI()
}
const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const results = []
for (const c of cases) {
  try {
    const api = specs[c.spec]
    if (!api) throw new Error(`unknown spec ${c.spec}`)
    if (c.kind === 'response') {
      const validate = api.createResponseValidator({ path: c.path, method: c.method })
      validate({ status: c.status, body: c.body })
    } else {
      const validate = api.createRequestValidator({ path: c.path, method: c.method })
      validate({
        method: c.method.toUpperCase(),
        path: c.path,
        body: c.body,
        headers: {
          'content-type': 'application/json',
          signature: 'sig1=:AAAA:',
          'signature-input': 'sig1=("@method");keyid="k";created=1'
        },
        query: c.query ?? {},
        params: c.params ?? { id: 'x' }
      })
    }
    results.push({ name: c.name, valid: true })
  } catch (e) {
    results.push({ name: c.name, valid: false, errors: e?.errors ?? String(e) })
  }
}
process.stdout.write(JSON.stringify(results))
