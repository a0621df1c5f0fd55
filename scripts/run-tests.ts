// Runs every test file under test/ with node:test, sharing one private redis-server that it starts on a free port
// and stops afterwards. Prints node:test's TAP summary (# pass N / # fail N).
import { spawn } from 'node:child_process'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { startRedis } from '../test/helpers/redis'

const root = join(__dirname, '..')

function testFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const path = join(dir, name)
      if (statSync(path).isDirectory()) return name === 'fixtures' ? [] : testFiles(path)
      return name.endsWith('.test.ts') ? [path] : []
    })
    .sort()
}

async function main(): Promise<number> {
  const filters = process.argv.slice(2)
  const files = testFiles(join(root, 'test'))
    .map((f) => relative(root, f))
    .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  if (files.length === 0) {
    console.error(`no test file matches ${filters.join(' ')}`)
    return 1
  }
  const redis = await startRedis()
  try {
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
      { cwd: root, stdio: 'inherit', env: { ...process.env, MTRK_TEST_REDIS_PORT: String(redis.port) } },
    )
    return await new Promise<number>((resolve) =>
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))),
    )
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
