// The part of haraka-test-fixtures (untyped) the hook tests use.
declare module 'haraka-test-fixtures' {
  export interface HookResult {
    rc: number | undefined
    msg: unknown
  }
  export interface FixtureTransaction {
    uuid: string
    notes: Record<string, unknown>
    rcpt_to: unknown[]
    results: { add(plugin: { name: string }, result: object): void }
  }
  export interface FixtureConnection {
    transaction: FixtureTransaction
    capabilities: string[]
    current_line: string | null
    relaying: boolean
  }
  export interface FixturePlugin {
    mtrk?: unknown
    hooks: Record<string, string[]>
    shutdown(): Promise<void>
  }
  export function makePlugin(name: string, opts?: { register?: boolean; configDir?: string }): FixturePlugin
  export function makeConnection(opts?: {
    withTxn?: boolean
    relaying?: boolean
    helo?: string
    mailFrom?: string
    rcptTo?: string[]
    txNotes?: Record<string, unknown>
    silent?: boolean
  }): FixtureConnection
  export function callHook(plugin: FixturePlugin, method: string, ...args: unknown[]): Promise<HookResult>
  export function callMail(
    plugin: FixturePlugin,
    c: FixtureConnection,
    addr: string,
    params?: object,
  ): Promise<HookResult>
  export function callRcpt(
    plugin: FixturePlugin,
    c: FixtureConnection,
    addr: string | object,
    params?: object,
  ): Promise<HookResult>
  export function callQueueOk(plugin: FixturePlugin, c: FixtureConnection, msg: string): Promise<HookResult>
}
