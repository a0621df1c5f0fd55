// Relaying end to end in Haraka's cluster mode (nodes=1, its default): deliveries and their hooks run in a worker.
import { relayingSuite } from './relaying'

relayingSuite(1)
