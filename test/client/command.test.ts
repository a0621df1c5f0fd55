// The mtqp command spawned as a user runs it (node bin/mtqp.js, the built package): its version and how it words
// argument errors. test/client/cli.test.ts covers the arguments in-process.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { runCommand } from '../helpers/command'
import { REPO } from '../helpers/haraka'

const mtqp = (...args: string[]) => runCommand('mtqp', args)

test('mtqp --version prints the package version', async () => {
  const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }
  const r = await mtqp('--version')
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stdout, `mtqp ${version}\n`)
})

test('an unknown option is named plainly, with where to read more; errors cite no checklist id', async () => {
  for (const [args, text] of [
    [['track', '--bogus'], 'mtqp: unknown option --bogus\nTry "mtqp track --help".\n'],
    [['--bogus'], 'mtqp: unknown option --bogus\nTry "mtqp --help".\n'],
    [
      ['track', '--server', 'h.example', '--envid', 'a@b', '--secret', 'not base64!'],
      'mtqp: --secret is not base64\nTry "mtqp track --help".\n',
    ],
  ] as const) {
    const r = await mtqp(...args)
    assert.equal(r.code, 64, args.join(' '))
    assert.equal(r.stderr, text)
  }
})
