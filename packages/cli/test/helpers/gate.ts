/**
 * Tests that need server binaries: skipped with the reason when missing, failing under
 * DIAL_KERNEL_TESTS=require (CI).
 */
import { it } from "@effect/vitest"

/**
 * A test that needs a server binary: skipped with the reason in its name when missing, or,
 * under DIAL_KERNEL_TESTS=require (CI), failing with the reason.
 */
export const serverTest = (
  name: string,
  missing: () => string | undefined,
  body: () => Promise<void>,
  timeout = 30_000
): void => {
  const reason = missing()
  if (reason === undefined) it(name, body, timeout)
  else if (process.env.DIAL_KERNEL_TESTS === "require") {
    it(name, () => {
      throw new Error(`DIAL_KERNEL_TESTS=require, but this machine lacks what the test needs: ${reason}`)
    })
  } else it.skip(`${name} (skipped: ${reason})`, body)
}
