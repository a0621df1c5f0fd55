import type { MessageHeader, StoredRecipient } from '../../src/model/records'

export function message(over: Partial<MessageHeader> = {}): MessageHeader {
  return {
    txn: 'AAAA-BBBB.1',
    envidXtext: '1@h.example.com',
    envid: '1@h.example.com',
    certifier: 'VheLhqV/rCKJmplkGFwsyW59pYk',
    arrival: 1_700_000_000_000,
    reportingMta: 'mx.example.net',
    requestedTimeout: 86400,
    retention: 86400,
    ret: null,
    ...over,
  }
}

export function recipient(over: Partial<StoredRecipient> = {}): StoredRecipient {
  return {
    address: 'u@example.net',
    orcpt: null,
    notify: null,
    action: 'delayed',
    status: '4.0.0',
    remoteMta: null,
    lastAttempt: null,
    willRetryUntil: null,
    keepUntil: 1_700_000_000_000 + 86400_000,
    updated: 1_700_000_000_000,
    history: [],
    ...over,
  }
}
