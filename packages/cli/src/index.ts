/**
 * @dial/cli: the `dial` command as a library.
 *
 * @since 0.1.0
 */

/**
 * The command definitions.
 *
 * @since 0.1.0
 */
export * as Cli from "./Cli.ts"

/**
 * Errno explanations.
 *
 * @since 0.1.0
 */
export * as Explain from "./Explain.ts"

/**
 * One connect attempt, as a report.
 *
 * @since 0.1.0
 */
export * as Probe from "./Probe.ts"

/**
 * Reports and exit codes.
 *
 * @since 0.1.0
 */
export * as Report from "./Report.ts"

/**
 * Waiting for targets.
 *
 * @since 0.1.0
 */
export * as Wait from "./Wait.ts"
