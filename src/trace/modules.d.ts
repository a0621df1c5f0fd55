// haraka-config's ini reader, the one Haraka reads config/mtrk.ini with; the package ships no types.

declare module 'haraka-config/lib/readers/ini' {
  /** Parses an ini file into sections of key/value pairs (keys before any section go to `main`); throws on I/O. */
  export function load(path: string, options: object): Record<string, Record<string, unknown>>
}
