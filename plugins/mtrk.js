// Haraka plain-file plugin for running this repository as a Haraka instance (npm start). Haraka evaluates it in a
// sandbox where `exports` is the Plugin; copy the compiled plugin's hook functions onto it. An absolute path is
// required: a relative require is resolved against Haraka's own directory first (HRK-18).
const impl = require(require('node:path').join(__dirname, '..', 'dist', 'index.js'))
for (const name of Object.keys(impl)) exports[name] = impl[name]
