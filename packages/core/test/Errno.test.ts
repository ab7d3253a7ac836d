import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import { Errno } from "../src/index.ts"

// The errnos connect(2)'s ERRORS section lists; the others are domain-specific (Linux).
const connect2 = [
  "EACCES",
  "EPERM",
  "EADDRINUSE",
  "EADDRNOTAVAIL",
  "EAFNOSUPPORT",
  "EAGAIN",
  "EALREADY",
  "EBADF",
  "ECONNREFUSED",
  "EFAULT",
  "EINPROGRESS",
  "EINTR",
  "EISCONN",
  "ENETUNREACH",
  "ENOTSOCK",
  "EPROTOTYPE",
  "ETIMEDOUT"
]

describe("Errno", () => {
  it("names, table and all agree, in order", () => {
    assert.deepStrictEqual(Object.keys(Errno.table), [...Errno.names])
    assert.deepStrictEqual(
      Errno.all.map((row) => row.name),
      [...Errno.names]
    )
    assert.strictEqual(new Set(Errno.names).size, Errno.names.length)
    for (const name of Errno.names) {
      assert.strictEqual(Errno.table[name].name, name)
      assert.strictEqual(Errno.info(name), Errno.table[name])
    }
  })

  it("every errno connect(2) documents has a tag, and only those are marked documented", () => {
    for (const name of connect2) assert.isTrue(Errno.isName(name), name)
    assert.deepStrictEqual(
      Errno.all.filter((row) => row.documented).map((row) => row.name),
      connect2
    )
    // The domain-specific ones the design names.
    for (const name of ["ENOENT", "ECONNRESET", "ECONNABORTED", "EHOSTUNREACH", "ENETDOWN", "EINVAL"]) {
      assert.isTrue(Errno.isName(name) && !Errno.table[name].documented, name)
    }
  })

  it.runIf(process.platform === "linux")("numbers are Linux's (checked against os.constants.errno)", () => {
    const linux = os.constants.errno as Record<string, number | undefined>
    for (const row of Errno.all) assert.strictEqual(row.number, linux[row.name], row.name)
  })

  it("numbers are positive and unique; fromNumber reads both signs", () => {
    assert.strictEqual(new Set(Errno.all.map((row) => row.number)).size, Errno.all.length)
    for (const row of Errno.all) {
      assert.isAbove(row.number, 0)
      assert.strictEqual(Errno.fromNumber(row.number), row)
      assert.strictEqual(Errno.fromNumber(-row.number), row)
    }
    assert.isUndefined(Errno.fromNumber(0))
    assert.isUndefined(Errno.fromNumber(105)) // ENOBUFS: not in the table
    assert.strictEqual(Errno.fromNumber(-32)?.name, "EPIPE")
    assert.isUndefined(Errno.fromNumber(Number.NaN))
  })

  it("isName accepts only the table's names", () => {
    for (const name of Errno.names) assert.isTrue(Errno.isName(name))
    for (const u of ["ENOBUFS", "econnrefused", "", "constructor", "toString", "__proto__", 111, null, undefined]) {
      assert.isFalse(Errno.isName(u), String(u))
    }
  })

  it("every row explains itself", () => {
    for (const row of Errno.all) {
      for (const field of ["meaning", "rationale", "causes", "fix"] as const) {
        assert.isAbove(row[field].trim().length, 10, `${row.name}.${field}`)
      }
      assert.include(["transient", "permanent", "state"], row.retryClass)
    }
  })

  describe("README", () => {
    const readme = fs.readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const start = readme.indexOf("<!-- errno-table:start")
    const end = readme.indexOf("<!-- errno-table:end -->")

    // A README row: | `NAME` | number | meaning | class | in connect(2) | rationale |
    const rows = readme
      .slice(start, end)
      .split("\n")
      .filter((line) => line.startsWith("| `"))
      .map((line) => line.split("|").map((cell) => cell.trim()))
      .map(([, name, number, meaning, retryClass, documented, rationale]) => ({
        name: name?.replace(/`/g, ""),
        number: Number(number),
        meaning,
        retryClass,
        documented,
        rationale
      }))

    it("has the errno table between its markers", () => {
      assert.isAtLeast(start, 0)
      assert.isAbove(end, start)
    })

    it("lists every errno once, in table order, with its number, class and rationale", () => {
      assert.deepStrictEqual(
        rows.map((row) => row.name),
        [...Errno.names],
        "the README's errno rows (regenerate the table from Errno.all)"
      )
      for (const [i, row] of rows.entries()) {
        const expected = Errno.all[i]!
        assert.strictEqual(row.number, expected.number, `${row.name} number`)
        assert.strictEqual(row.retryClass, expected.retryClass, `${row.name} class`)
        assert.strictEqual(row.documented, expected.documented ? "yes" : "no", `${row.name} in connect(2)`)
        assert.strictEqual(row.rationale, expected.rationale, `${row.name} rationale`)
        // The short meaning is the table's, cut at its first sentence.
        const short = row.meaning?.replace(/\.$/, "") ?? ""
        assert.isAbove(short.length, 0, `${row.name} meaning`)
        assert.isTrue(expected.meaning.startsWith(short), `${row.name} meaning: ${short}`)
      }
    })
  })
})
