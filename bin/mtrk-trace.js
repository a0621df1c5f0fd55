#!/usr/bin/env node

// The `mtrk-trace` command: a shim for the compiled CLI (src/trace/cli.ts, built by `npm run build`).
require('../dist/trace/cli.js')
  .main(process.argv.slice(2))
  .then(
    (code) => {
      process.exitCode = code
    },
    (e) => {
      console.error(`mtrk-trace: internal error: ${e instanceof Error ? e.message : String(e)}`)
      process.exitCode = 70
    },
  )
