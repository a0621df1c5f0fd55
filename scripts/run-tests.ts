// Runs test files under test/ with node:test and prints its TAP summary (# pass N / # fail N).
//   scripts/run-tests.ts [substring...]         the matching test files, every one without arguments
//   scripts/run-tests.ts --unit [substring...]  only pure test files (`npm run test:unit`)
// Only when a selected file needs the machine (scripts/lib/test-files.ts) does it install the Debian packages the
// tests use and start one private redis-server on a free port, shared by the files and stopped afterwards.
import { spawn, spawnSync } from 'node:child_process'
import { join, relative } from 'node:path'
import { startRedis } from '../test/helpers/redis'
import { systemImport, testFiles } from './lib/test-files'

const root = join(__dirname, '..')

/** Debian packages of the tests that need the machine, as command:package pairs for lib.sh ensure_commands. */
const TEST_COMMANDS = [
  'redis-server:redis-server',
  'openssl:openssl',
  '/usr/bin/python3:python3',
  'py-aiosmtpd:python3-aiosmtpd',
  '/usr/sbin/dnsmasq:dnsmasq-base',
  '/usr/sbin/postfix:postfix',
  '/usr/bin/chromium:chromium',
]

function ensureCommands(): void {
  const r = spawnSync(
    'bash',
    ['-c', '. scripts/lib.sh && ensure_commands "$@"', 'ensure', ...TEST_COMMANDS],
    {
      cwd: root,
      stdio: 'inherit',
    },
  )
  if (r.status !== 0) throw new Error('the test commands could not be installed')
}

function runNodeTest(files: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(
    process.execPath,
    [
      // Any unhandled rejection fails the run; node:test passes the flag on to each test file's process (issue 10).
      '--unhandled-rejections=strict',
      '--import',
      'tsx',
      '--test',
      '--test-reporter=tap',
      '--test-concurrency=3',
      '--test-timeout=180000',
      ...files,
    ],
    { cwd: root, stdio: 'inherit', env },
  )
  return new Promise<number>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))),
  )
}

async function main(): Promise<number> {
  const args = process.argv.slice(2)
  const unit = args.includes('--unit')
  const filters = args.filter((a) => a !== '--unit')
  const selected = testFiles(join(root, 'test'))
    .filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)))
    .map((f) => ({ path: relative(root, f), needs: systemImport(f) }))
  const files = unit ? selected.filter((f) => f.needs === null) : selected
  if (files.length === 0) {
    console.error(`no ${unit ? 'pure ' : ''}test file matches ${filters.join(' ')}`)
    return 1
  }
  const paths = files.map((f) => f.path)
  if (files.every((f) => f.needs === null)) return runNodeTest(paths, process.env)
  ensureCommands()
  const redis = await startRedis()
  console.log(
    `== redis-server on port ${redis.port} for ${files.filter((f) => f.needs !== null).length} test files`,
  )
  try {
    return await runNodeTest(paths, { ...process.env, MTRK_TEST_REDIS_PORT: String(redis.port) })
  } finally {
    await redis.close()
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e)
    process.exit(1)
  },
)
