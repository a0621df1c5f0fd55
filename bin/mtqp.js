#!/usr/bin/env node

// The `mtqp` command: a shim for the compiled CLI (src/client/cli.ts, built by `npm run build`).
require('../dist/client/cli.js')
  .main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code
    },
    (e) => {
      console.error(e)
      process.exitCode = 70
    },
  )
