// HOST:PORT endpoints as written in ini files: "127.0.0.1:1038", "[::]:1038", "redis.example:6379".

export interface Endpoint {
  host: string
  port: number
}

/** Parses `host:port` or `[ipv6]:port`; returns null when malformed or the port is not 1..65535. */
export function parseEndpoint(text: string): Endpoint | null {
  const m = /^\s*(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):([0-9]{1,5})\s*$/.exec(text)
  const port = Number(m?.[3])
  const host = m?.[1] ?? m?.[2]
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) return null
  return { host, port }
}

/** Parses a comma-separated list of endpoints; null when any element is malformed or the list is empty. */
export function parseEndpointList(text: string): Endpoint[] | null {
  const items = text.split(',').filter((s) => s.trim() !== '')
  const out = items.map(parseEndpoint)
  return out.length > 0 && out.every((e) => e !== null) ? (out as Endpoint[]) : null
}

export function formatEndpoint({ host, port }: Endpoint): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
