// Process and timing helpers shared with scripts/ (npm start uses them too).
export { freePort, sleep, waitFor } from '../../scripts/lib/ports'
