// `npm start`: the development relay. Runs Haraka with this repository as its instance directory (config/), the
// mtrk plugin and its MTQP listener; starts a private redis-server (data in var/redis) when the configured Redis
// does not answer; makes a self-signed TLS certificate on first start. Ctrl-C stops everything it started.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { applyRedisUrl, type IniSections, parseConfig, type RedisConfig } from '../src/config/config'
import { formatEndpoint } from '../src/config/listen'
import { freePort, portIsFree } from './lib/ports'
import { pingRedis, type RedisProcess, redisServer } from './lib/redis-server'
import { makeSelfSignedCert } from './make-cert'

const root = join(__dirname, '..')
const config = join(root, 'config')
const say = (msg: string) => console.log(`[npm start] ${msg}`)

function readConfig(): RedisConfig & { mtqp: string; smtp: string } {
  // Haraka's own loader, so the file is read exactly as the plugin will read it.
  const harakaConfig = require('haraka-config').module_config(root) as {
    get(name: string, o?: object): unknown
  }
  const { config: cfg, errors } = parseConfig(harakaConfig.get('mtrk.ini') as IniSections)
  for (const e of errors) say(`config/mtrk.ini ${e}`)
  const smtp = harakaConfig.get('smtp.ini') as { main?: { listen?: string } }
  const { redis, error } = applyRedisUrl(cfg.redis, process.env.MTRK_REDIS_URL)
  if (error) throw new Error(error)
  return {
    ...redis,
    mtqp: cfg.mtqp.enabled ? formatEndpoint(cfg.mtqp.listen) : 'disabled',
    smtp: smtp.main?.listen ?? '[::0]:25',
  }
}

function ensureCertificate(): void {
  const key = join(config, 'tls_key.pem')
  const cert = join(config, 'tls_cert.pem')
  if (existsSync(key) && existsSync(cert)) return
  const me = existsSync(join(config, 'me')) ? readFileSync(join(config, 'me'), 'utf8').trim() : hostname()
  makeSelfSignedCert(me, key, cert)
  say(
    `created a self-signed TLS certificate for ${me} (config/tls_cert.pem); install your own for production`,
  )
}

/** The configured Redis if it answers; otherwise a private one, on the configured port when that is free. */
async function ensureRedis(
  cfg: RedisConfig,
): Promise<{ env: Record<string, string>; own: RedisProcess | null }> {
  if (cfg.cluster || cfg.sentinels || cfg.socket) {
    say('using the Redis Cluster / Sentinel / socket set in config/mtrk.ini')
    return { env: {}, own: null }
  }
  if (await pingRedis(cfg.host, cfg.port)) {
    say(`using Redis at ${formatEndpoint(cfg)}`)
    return { env: {}, own: null }
  }
  // Installs Debian's redis-server when missing and run as root; otherwise stops with what to install.
  execFileSync('bash', ['-c', '. scripts/lib.sh && ensure_commands redis-server:redis-server'], {
    cwd: root,
    stdio: 'inherit',
  })
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(cfg.host)
  const port = loopback && (await portIsFree(cfg.port)) ? cfg.port : await freePort()
  const own = await redisServer({ dir: join(root, 'var', 'redis'), port, persist: true })
  await own.start()
  say(
    `no Redis answered at ${formatEndpoint(cfg)}: started a private redis-server on 127.0.0.1:${port} (data in var/redis)`,
  )
  const same = loopback && port === cfg.port && !cfg.password
  return { env: same ? {} : { MTRK_REDIS_URL: `redis://127.0.0.1:${port}/${cfg.db}` }, own }
}

async function main(): Promise<number> {
  ensureCertificate()
  const cfg = readConfig()
  const { env, own } = await ensureRedis(cfg)
  say(`SMTP on ${cfg.smtp}, MTQP on ${cfg.mtqp}; Ctrl-C stops the relay`)
  const haraka = spawn(
    process.execPath,
    [join(root, 'node_modules', 'Haraka', 'bin', 'haraka'), '-c', root],
    {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, ...env },
    },
  )
  // graceful_shutdown=true in smtp.ini: SIGINT lets the plugin close its listener and Redis connections.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => haraka.kill('SIGINT'))
  const code = await new Promise<number>((resolve) => haraka.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))))
  if (own) {
    await own.stop('SIGTERM')
    say('stopped the private redis-server')
  }
  return code
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`[npm start] ${e instanceof Error ? e.message : String(e)}`)
    process.exit(1)
  },
)
