// SMTP throughput and memory of Haraka with the mtrk plugin against Haraka without it, measured in the same run
// on the same machine: prints the ratio, not absolute numbers that depend on the machine.
//   npm run bench -- smtp [messages] [connections]        everything below
//   npm run bench -- smtp-split [messages] [connections]  the cost split alone (benchSmtpSplit)
import { type HarakaInstance, startHaraka } from '../test/helpers/haraka'
import { type RedisServer, startRedis } from '../test/helpers/redis'
import { SmtpClient } from '../test/helpers/smtp'
import { phase, ratio } from './bound'
import { cpuSeconds, rssKiB } from './proc'
import { profileArgs } from './profile'

const CERTIFIER = 'VheLhqV/rCKJmplkGFwsyW59pYk'
const ROUNDS = 3

/** The MAIL and RCPT lines and the message of the i-th message of a load. */
export interface BenchMessage {
  mail: string
  rcpt: string
  data: string
}

/** A tracked message with DSN parameters (NOTIFY as given): what this plugin does the most for. */
const withNotify =
  (notify: string) =>
  (i: number, tag: string): BenchMessage => ({
    mail: `MAIL FROM:<s@bench.example> ENVID=${tag}${i}@bench.example MTRK=${CERTIFIER}:86400`,
    rcpt: `RCPT TO:<u${i % 7}@local.test> NOTIFY=${notify} ORCPT=rfc822;u@local.test`,
    data: `Subject: bench ${i}\n\n${'x'.repeat(1000)}\n`,
  })

/** Plain messages, as most of a relay's mail is: no MTRK, no DSN parameters. */
export const plain = (i: number, tag: string): BenchMessage => ({
  mail: `MAIL FROM:<s${i % 13}@bench.example>`,
  rcpt: `RCPT TO:<u${i % 7}@local.test>`,
  data: `Message-ID: <${tag}${i}@bench.example>\nSubject: bench ${i}\n\n${'x'.repeat(1000)}\n`,
})

/** Tracked; delivered here, so no report is due. */
const tracked = withNotify('FAILURE')
/** Tracked, and the sender asked for a report of the delivery: one RFC 3464 report per message. */
const reported = withNotify('SUCCESS,FAILURE')

/** Sends `count` messages over `connections` parallel SMTP sessions; returns messages per second. */
export async function load(
  haraka: HarakaInstance,
  count: number,
  connections: number,
  tag: string,
  message: (i: number, tag: string) => BenchMessage = tracked,
): Promise<number> {
  let next = 0
  const started = process.hrtime.bigint()
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const { client } = await SmtpClient.connect(haraka.smtpPort)
      await client.cmd('EHLO bench.example')
      for (let i = next++; i < count; i = next++) {
        const m = message(i, tag)
        const mail = await client.cmd(m.mail)
        const rcpt = await client.cmd(m.rcpt)
        const data = await client.data(m.data)
        if (mail.code !== 250 || rcpt.code !== 250 || data.code !== 250)
          throw new Error(`refused: ${data.text}`)
      }
      client.close()
    }),
  )
  return count / (Number(process.hrtime.bigint() - started) / 1e9)
}

/** CPU seconds Redis has used (INFO cpu, user + system). */
async function redisCpuSeconds(redis: RedisServer): Promise<number> {
  const info = await redis.client().info('cpu')
  return ['used_cpu_user', 'used_cpu_sys'].reduce(
    (sum, f) => sum + Number(new RegExp(`${f}:([\\d.]+)`).exec(info)?.[1]),
    0,
  )
}

export async function benchSmtp(count = 2000, connections = 8): Promise<void> {
  const redis = await startRedis()
  const without = await phase('smtp: start Haraka without mtrk', 60, () =>
    startHaraka({ redisPort: redis.port, plugins: ['test_rcpt', 'test_queue'], nodeArgs: profileArgs() }),
  )
  const withPlugin = await phase('smtp: start Haraka with mtrk', 60, () =>
    startHaraka({ redisPort: redis.port, nodeArgs: profileArgs() }),
  )
  try {
    // Warm up both (JIT, TLD lists, connection pools) before measuring.
    await phase('smtp: warm-up', 120, async () => {
      await load(without, 200, connections, 'warm-a')
      await load(withPlugin, 200, connections, 'warm-b')
    })
    const rates = { without: 0, with: 0, reports: 0 }
    const firstRss = { without: 0, with: 0 }
    // CPU per message is steadier than throughput on a shared machine; Redis's share is the Lua write scripts.
    const cpu = { without: 0, with: 0, reports: 0, redis: 0 }
    const redisCpu = () => redisCpuSeconds(redis)
    const measured = async (h: HarakaInstance, which: 'without' | 'with' | 'reports', tag: string) => {
      const [before, redisBefore] = [cpuSeconds(h.pid()), await redisCpu()]
      rates[which] += await load(h, count, connections, tag, which === 'reports' ? reported : tracked)
      cpu[which] += cpuSeconds(h.pid()) - before
      if (which === 'with') cpu.redis += (await redisCpu()) - redisBefore
      // After the first round of each, before the first report is sent: the outbound queue of reports would count
      // against tracking.
      if (which !== 'reports') firstRss[which] ||= rssKiB(h.pid())
    }
    // Alternate so that a machine-wide slowdown hits both alike. The rounds with reports come last: delivering the
    // reports keeps the outbound queue busy afterwards, which would count against the rounds without.
    for (let round = 0; round < ROUNDS; round++) {
      await phase(`smtp: without mtrk, round ${round + 1}`, 180, () =>
        measured(without, 'without', `a${round}-`),
      )
      await phase(`smtp: with mtrk, round ${round + 1}`, 180, () =>
        measured(withPlugin, 'with', `b${round}-`),
      )
    }
    const baseline = { rate: rates.without, cpu: cpu.without }
    for (let round = 0; round < ROUNDS; round++) {
      await phase(`smtp: without mtrk, report round ${round + 1}`, 180, () =>
        measured(without, 'without', `d${round}-`),
      )
      await phase(`smtp: with mtrk and success reports, round ${round + 1}`, 180, () =>
        measured(withPlugin, 'reports', `c${round}-`),
      )
    }
    const reportBaseline = { rate: rates.without - baseline.rate, cpu: cpu.without - baseline.cpu }
    Object.assign(rates, { without: baseline.rate })
    Object.assign(cpu, { without: baseline.cpu })
    const mem = { ...firstRss, reports: rssKiB(withPlugin.pid()) }
    const keys = await redis.client().dbsize()
    console.log(
      `SMTP, ${count} messages x ${ROUNDS} rounds alternated over ${connections} connections, 1 KB each, MTRK, ENVID, NOTIFY, ORCPT`,
    )
    console.log(`  Haraka without mtrk: ${(rates.without / ROUNDS).toFixed(0)} msg/s, RSS ${mem.without} KiB`)
    console.log(
      `  Haraka with mtrk:    ${(rates.with / ROUNDS).toFixed(0)} msg/s, RSS ${mem.with} KiB (${keys} envid keys in Redis)`,
    )
    console.log(
      `  throughput ratio with/without: ${ratio(rates.with, rates.without)} (NOTIFY=FAILURE: tracked, no report due)`,
    )
    console.log(
      `  with a success report per message (NOTIFY=SUCCESS,FAILURE): ${(rates.reports / ROUNDS).toFixed(0)} msg/s, ratio ${ratio(rates.reports, reportBaseline.rate)} to without in the same rounds`,
    )
    console.log(
      `  memory ratio with/without:     ${ratio(mem.with, mem.without)} (after the first round of each; with, after the report rounds: ${ratio(mem.reports, mem.without)})`,
    )
    const us = (seconds: number) => ((seconds / (count * ROUNDS)) * 1e6).toFixed(0)
    console.log(
      `  CPU per message: Haraka without ${us(cpu.without)} µs, with ${us(cpu.with)} µs (ratio ${ratio(cpu.with, cpu.without)}), with a report ${us(cpu.reports)} µs (ratio ${ratio(cpu.reports, reportBaseline.cpu)}); Redis ${us(cpu.redis)} µs per tracked message`,
    )
  } finally {
    await without.stop()
    await withPlugin.stop()
    await redis.close()
  }
}

/**
 * Where the plugin's SMTP cost comes from: Haraka with the plugin on plain mail with [trace] off (hooks and parsing),
 * plain mail traced (one trace write a message), MTRK mail untraced (one tracking write) and MTRK mail traced (both),
 * each against Haraka without the plugin, rounds alternated over the five. Haraka's and Redis's CPU per message
 * beside each rate: the writes leave after the replies, so a short pause after each round lets them count.
 */
export async function benchSmtpSplit(count = 2000, connections = 8): Promise<void> {
  const redis = await startRedis()
  const untraced = { trace: { enabled: false } }
  const variants = [
    { name: 'without the plugin', opts: { plugins: ['test_rcpt', 'test_queue'] }, mail: plain },
    { name: 'plain mail, [trace] off', opts: { mtrk: untraced }, mail: plain },
    { name: 'plain mail, traced', opts: {}, mail: plain },
    { name: 'MTRK mail, [trace] off', opts: { mtrk: untraced }, mail: tracked },
    { name: 'MTRK mail, traced', opts: {}, mail: tracked },
  ]
  const harakas: HarakaInstance[] = []
  try {
    for (const v of variants) {
      const h = await phase(`smtp-split: start Haraka, ${v.name}`, 60, () =>
        startHaraka({ redisPort: redis.port, nodeArgs: profileArgs(), ...v.opts }),
      )
      harakas.push(h)
      if (process.env.BENCH_PROF) console.log(`  (profile of ${v.name}: pid ${h.pid()})`)
    }
    await phase('smtp-split: warm-up', 120, async () => {
      for (const [i, h] of harakas.entries()) await load(h, 200, connections, `w${i}-`, variants[i]?.mail)
    })
    const totals = variants.map(() => ({ rate: 0, haraka: 0, redis: 0 }))
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, h] of harakas.entries()) {
        const t = totals[i] as (typeof totals)[number]
        await phase(`smtp-split: ${variants[i]?.name}, round ${round + 1}`, 180, async () => {
          const [haraka, redisBefore] = [cpuSeconds(h.pid()), await redisCpuSeconds(redis)]
          t.rate += await load(h, count, connections, `r${round}v${i}-`, variants[i]?.mail)
          await new Promise((r) => setTimeout(r, 200))
          t.haraka += cpuSeconds(h.pid()) - haraka
          t.redis += (await redisCpuSeconds(redis)) - redisBefore
        })
      }
    }
    const base = totals[0] as (typeof totals)[number]
    const us = (seconds: number) => (seconds / (count * ROUNDS)) * 1e6
    console.log(
      `SMTP cost split, ${count} messages x ${ROUNDS} rounds alternated over ${connections} connections, 1 KB each ` +
        '(MTRK mail: MTRK, ENVID, NOTIFY, ORCPT)',
    )
    for (const [i, v] of variants.entries()) {
      const t = totals[i] as (typeof totals)[number]
      const extra = i === 0 ? '' : ` (+${(us(t.haraka) - us(base.haraka)).toFixed(0)})`
      console.log(
        `  ${v.name.padEnd(24)} ${(t.rate / ROUNDS).toFixed(0).padStart(5)} msg/s, ratio ${ratio(t.rate, base.rate)}; ` +
          `CPU per message: Haraka ${us(t.haraka).toFixed(0)} µs${extra}, Redis ${us(t.redis).toFixed(0)} µs`,
      )
    }
  } finally {
    for (const h of harakas) await h.stop()
    await redis.close()
  }
}
