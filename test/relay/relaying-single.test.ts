// Relaying end to end in one Haraka process (nodes=0); the scenarios are in ./relaying.ts.
import { relayingSuite } from './relaying'

relayingSuite(0)
