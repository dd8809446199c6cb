/** fleet.yaml -> FleetSpec: every problem at once, each with its line and column. */
export { configLocation, formatProblems, loadConfig, parseConfig } from './parse.js';
export { CronError, cronProblem, parseCron, type CronField, type CronSchedule } from './cron.js';
export { formatDuration, parseDurationSeconds, parseS3Location } from './validators.js';
export { didYouMean } from './suggest.js';
