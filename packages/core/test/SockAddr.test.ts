import { afterAll, assert, describe, expect, it } from "@effect/vitest"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as NetAddress from "effect/net/NetAddress"
import { InvalidInput, SockAddr } from "../src/index.ts"

// Every property runs at least this many generated cases; `afterAll` checks that they did.
const RUNS = 1000
const options = { arbitrary: { runs: RUNS } }
const runs = new Map<string, number>()
const count = (name: string): void => {
  runs.set(name, (runs.get(name) ?? 0) + 1)
}
afterAll(() => {
  for (const [name, n] of runs) expect(n, name).toBeGreaterThanOrEqual(RUNS)
})

const utf8 = new TextEncoder()
const bytesOf = (s: string): number => utf8.encode(s).length

const int = (min: number, max: number): Arbitrary.Arbitrary<number> =>
  Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: min, maximum: max })))

const pick = <A>(values: ReadonlyArray<A>): Arbitrary.Arbitrary<A> =>
  Arbitrary.map(int(0, values.length - 1), (i) => values[i]!)

/** Asserts a refusal: the typed `InvalidInput`, never anything else. */
const assertInvalid = (result: Result.Result<unknown, unknown>, label: string): void => {
  assert.isTrue(Result.isFailure(result), `${label} should be refused`)
  if (Result.isFailure(result)) {
    assert.instanceOf(result.failure, InvalidInput.InvalidInput, label)
    assert.strictEqual((result.failure as InvalidInput.InvalidInput)._tag, "InvalidInput")
  }
}

const assertValid = <A>(result: Result.Result<A, unknown>, label: string): A => {
  if (Result.isFailure(result)) assert.fail(`${label} should be accepted: ${String(result.failure)}`)
  return result.success
}

/** The same refusal through every decoding entry point that takes this kind of input. */
const assertSchemaRefuses = (schema: typeof SockAddr.FromString | typeof SockAddr.FromJson, input: unknown) => {
  // A Schema failure is a value (an Exit failure), never a throw or a defect.
  const exit = Schema.decodeUnknownExit(schema)(input)
  assert.isTrue(Exit.isFailure(exit))
  if (Exit.isFailure(exit)) assert.isFalse(Exit.hasDies(exit), "a refusal must not be a defect")
}

const ipOf = (a: SockAddr.Inet): string => NetAddress.formatIp(a.ip)
const withPort = (ip: string, port: number | string): string => (ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`)

const anyInet: Arbitrary.Arbitrary<SockAddr.Inet> = Arbitrary.flatMap(int(0, 1), (v) =>
  v === 0 ? SockAddr.arbitraryInetV4 : SockAddr.arbitraryInetV6
)

describe("SockAddr", () => {
  it("a string parsed again is the same value, and stays right past the cache's bound", () => {
    const first = Result.getOrThrow(SockAddr.fromString("127.0.0.1:5432"))
    assert.strictEqual(Result.getOrThrow(SockAddr.fromString("127.0.0.1:5432")), first)
    // Shared, so frozen: a careless write cannot change what the next parse returns.
    assert.throws(() => {
      ;(first as { _tag: string })._tag = "Unspec"
    })
    assert.throws(() => {
      ;(first as { address: unknown }).address = null
    })
    if (first._tag === "Inet") {
      assert.throws(() => {
        ;(first.address as { port: number }).port = 1
      })
    }
    // Far more distinct strings than the cache holds; failures are never kept.
    for (let port = 1; port <= 1000; port++) {
      assert.strictEqual(SockAddr.format(Result.getOrThrow(SockAddr.fromString(`[::1]:${port}`))), `[::1]:${port}`)
    }
    assert.isTrue(Result.isFailure(SockAddr.fromString("127.0.0.1:99999")))
    assert.isTrue(Result.isFailure(SockAddr.fromString("127.0.0.1:99999")))
    const again = Result.getOrThrow(SockAddr.fromString("127.0.0.1:5432"))
    assert.isTrue(Equal.equals(again, first))
    assert.strictEqual(SockAddr.format(again), "127.0.0.1:5432")
  })

  describe("round trips", () => {
    const variants = {
      IPv4: SockAddr.arbitraryInetV4,
      "IPv6 (with scope ids)": SockAddr.arbitraryInetV6,
      "unix path": SockAddr.arbitraryUnixPath,
      "unix abstract": SockAddr.arbitraryUnixAbstract,
      unspec: Arbitrary.Constant(SockAddr.unspec),
      "any variant": SockAddr.arbitrary
    } as const

    for (const [name, arbitrary] of Object.entries(variants)) {
      it.prop(
        `${name}: fromString(format(a)) equals a`,
        [arbitrary],
        ([a]) => {
          count(`string ${name}`)
          const text = SockAddr.format(a)
          const back = assertValid(SockAddr.fromString(text), text)
          assert.isTrue(Equal.equals(back, a), `${text} read back as ${SockAddr.format(back)}`)
          assert.strictEqual(back._tag, a._tag)
          assert.strictEqual(SockAddr.format(back), text)
          assert.strictEqual(String(a), text)
        },
        options
      )

      it.prop(
        `${name}: the FromString and FromJson Schemas round-trip`,
        [arbitrary],
        ([a]) => {
          count(`schema ${name}`)
          const text = Schema.encodeSync(SockAddr.FromString)(a)
          assert.strictEqual(text, SockAddr.format(a))
          assert.isTrue(Equal.equals(Schema.decodeUnknownSync(SockAddr.FromString)(text), a))
          // Through real JSON text, so the encoded form is JSON-safe.
          const json = JSON.parse(JSON.stringify(Schema.encodeSync(SockAddr.FromJson)(a)))
          assert.deepStrictEqual(json, SockAddr.toJson(a))
          assert.isTrue(Equal.equals(Schema.decodeUnknownSync(SockAddr.FromJson)(json), a))
          assert.isTrue(Equal.equals(assertValid(SockAddr.fromJson(json), "fromJson"), a))
        },
        options
      )
    }

    it.effect.prop(
      "parse (the Effect form) agrees with fromString",
      [SockAddr.arbitrary],
      ([a]) =>
        Effect.gen(function* () {
          count("parse")
          const back = yield* SockAddr.parse(SockAddr.format(a))
          assert.isTrue(Equal.equals(back, a))
        }),
      options
    )

    it.effect("the generators reach what they promise: scoped IPv6, multi-byte names, names near the limit", () =>
      Effect.gen(function* () {
        const samples = yield* Arbitrary.sampleEffect(SockAddr.arbitrary, { count: 2000, seed: 7 })
        const inets = samples.filter(SockAddr.isInet)
        assert.isTrue(inets.some((a) => a.family === "IPv4"))
        assert.isTrue(inets.some((a) => a.family === "IPv6" && a.scopeId !== 0))
        assert.isTrue(inets.some((a) => a.family === "IPv6" && a.scopeId === 0))
        assert.isTrue(inets.some((a) => SockAddr.format(a).includes("::")))
        const names = samples.flatMap((a) =>
          a._tag === "UnixPath" ? [a.path] : a._tag === "UnixAbstract" ? [a.name] : []
        )
        assert.isTrue(
          names.some((n) => bytesOf(n) > n.length),
          "multi-byte names"
        )
        assert.isTrue(
          names.some((n) => bytesOf(n) === SockAddr.maxUnixPathBytes),
          "names at sun_path's limit"
        )
        assert.isTrue(names.filter((n) => bytesOf(n) > 90).length > 100, "many names near the limit")
        assert.isTrue(names.every((n) => bytesOf(n) <= SockAddr.maxUnixPathBytes))
        assert.isTrue(samples.some(SockAddr.isUnspec))
      })
    )

    it("documented examples", () => {
      for (const text of [
        "127.0.0.1:80",
        "[::1]:443",
        "[fe80::1%2]:22",
        "unix:/run/app.sock",
        "unix:@name",
        "unspec"
      ]) {
        assert.strictEqual(SockAddr.format(assertValid(SockAddr.fromString(text), text)), text)
      }
      const scoped = assertValid(SockAddr.fromString("[fe80::1%2]:22"), "scoped")
      assert.strictEqual(scoped._tag, "Inet")
      if (scoped._tag === "Inet") {
        assert.strictEqual(scoped.scopeId, 2)
        assert.strictEqual(scoped.port, 22)
        assert.strictEqual(scoped.family, "IPv6")
      }
      assert.deepStrictEqual(SockAddr.toJson(scoped), { _tag: "Inet", ip: "fe80::1", port: 22, scopeId: 2 })
      // Scope ids distinguish addresses.
      assert.isFalse(Equal.equals(scoped, assertValid(SockAddr.fromString("[fe80::1%3]:22"), "other scope")))
    })
  })

  describe("invalid input is a typed InvalidInput, never a throw", () => {
    const negativePort = int(-(2 ** 31), -1)
    const tooHighPort = int(65536, 2 ** 31)
    // An integer plus a fraction of 1/8..7/8: never an integer, often inside 0..65535.
    const fractionalPort = Arbitrary.map(Arbitrary.all([int(0, 65535), int(1, 7)]), ([n, k]) => n + k / 8)

    for (const [name, ports] of [
      ["negative", negativePort],
      ["above 65535", tooHighPort]
    ] as const) {
      it.prop(
        `port ${name}`,
        [anyInet, ports],
        ([a, port]) => {
          count(`port ${name}`)
          const ip = ipOf(a)
          assertInvalid(SockAddr.inet(ip, port), "inet")
          assertInvalid(SockAddr.inet(a.ip, port), "inet from an IpAddress")
          assertInvalid(SockAddr.fromString(withPort(ip, port)), withPort(ip, port))
          assertInvalid(SockAddr.fromJson({ _tag: "Inet", ip, port }), "fromJson")
          assertSchemaRefuses(SockAddr.FromJson, { _tag: "Inet", ip, port })
          assertSchemaRefuses(SockAddr.FromString, withPort(ip, port))
        },
        options
      )
    }

    it.prop(
      "port not an integer",
      [anyInet, fractionalPort],
      ([a, port]) => {
        count("port fractional")
        const ip = ipOf(a)
        assert.isFalse(Number.isInteger(port))
        assertInvalid(SockAddr.inet(ip, port), "inet")
        assertInvalid(SockAddr.fromString(withPort(ip, port)), withPort(ip, port))
        assertInvalid(SockAddr.fromJson({ _tag: "Inet", ip, port }), "fromJson")
        assertSchemaRefuses(SockAddr.FromJson, { _tag: "Inet", ip, port })
      },
      options
    )

    it("ports that are not finite numbers", () => {
      for (const port of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0.5, 65535.5]) {
        assertInvalid(SockAddr.inet("127.0.0.1", port), `port ${port}`)
        assertInvalid(SockAddr.inet("::1", port), `port ${port}`)
      }
      // Both ends of the range are valid.
      assertValid(SockAddr.inet("127.0.0.1", 0), "port 0")
      assertValid(SockAddr.inet("::1", 65535), "port 65535")
    })

    const hex = "0123456789abcdef"
    const malformedIp: Arbitrary.Arbitrary<string> = Arbitrary.flatMap(
      int(0, 7),
      (kind): Arbitrary.Arbitrary<string> => {
        switch (kind) {
          case 0: // an IPv4 octet above 255
            return Arbitrary.map(
              Arbitrary.all([SockAddr.arbitraryInetV4, int(0, 3), int(256, 99999)]),
              ([a, i, big]) => {
                const octets = ipOf(a).split(".")
                octets[i] = String(big)
                return octets.join(".")
              }
            )
          case 1: // too few or too many IPv4 octets
            return Arbitrary.map(
              Arbitrary.flatMap(pick([1, 2, 3, 5, 6, 7, 8]), (n) =>
                Arbitrary.array(int(0, 255), { minLength: n, maxLength: n })
              ),
              (octets) => octets.join(".")
            )
          case 2: // an empty IPv4 octet
            return Arbitrary.map(Arbitrary.all([SockAddr.arbitraryInetV4, int(0, 3)]), ([a, i]) => {
              const octets = ipOf(a).split(".")
              octets[i] = ""
              return octets.join(".")
            })
          case 3: // nine to twelve IPv6 groups
            return Arbitrary.map(
              Arbitrary.flatMap(int(9, 12), (n) => Arbitrary.array(int(0, 0xffff), { minLength: n, maxLength: n })),
              (groups) => groups.map((g) => g.toString(16)).join(":")
            )
          case 4: // an IPv6 group wider than 16 bits
            return Arbitrary.map(Arbitrary.all([SockAddr.arbitraryInetV6, int(0x10000, 0xfffffff)]), ([a, wide]) =>
              ipOf(a).includes("::") ? ipOf(a).replace("::", `:${wide.toString(16)}:`) : `${wide.toString(16)}::1`
            )
          case 5: // two "::" runs
            return Arbitrary.map(
              Arbitrary.all([int(0, 0xffff), int(0, 0xffff), int(0, 0xffff)]),
              ([a, b, c]) => `${a.toString(16)}::${b.toString(16)}::${c.toString(16)}`
            )
          case 6: // a letter that is not hex
            return Arbitrary.map(
              Arbitrary.all([SockAddr.arbitraryInetV6, pick([..."ghijklmnopqrstuvwxyz"])]),
              ([a, letter]) => `${letter}${ipOf(a)}`
            )
          default: // an IP with trailing or leading junk
            return Arbitrary.map(
              Arbitrary.all([anyInet, pick(["x", " ", "/", "%", "..", "-", `${hex}g`])]),
              ([a, junk]) => `${ipOf(a)}${junk}`
            )
        }
      }
    )

    it.prop(
      "malformed IP",
      [malformedIp, int(0, 65535)],
      ([ip, port]) => {
        count("malformed ip")
        assert.isTrue(Result.isFailure(NetAddress.ipFromString(ip)), `generator made a valid IP: ${ip}`)
        assertInvalid(SockAddr.inet(ip, port), `inet(${ip})`)
        assertInvalid(SockAddr.fromString(`${ip}:${port}`), `${ip}:${port}`)
        assertInvalid(SockAddr.fromString(`[${ip}]:${port}`), `[${ip}]:${port}`)
        assertInvalid(SockAddr.fromJson({ _tag: "Inet", ip, port }), "fromJson")
        assertSchemaRefuses(SockAddr.FromJson, { _tag: "Inet", ip, port })
      },
      options
    )

    it("scope ids: only on IPv6, only unsigned 32-bit", () => {
      assertInvalid(SockAddr.inet("127.0.0.1", 1, 3), "IPv4 with a scope id")
      assertInvalid(SockAddr.inet("fe80::1", 1, -1), "negative scope id")
      assertInvalid(SockAddr.inet("fe80::1", 1, 2 ** 32), "scope id of 33 bits")
      assertInvalid(SockAddr.inet("fe80::1", 1, 1.5), "fractional scope id")
      assertInvalid(SockAddr.fromString("[fe80::1%eth0]:22"), "interface name as scope id")
      assertInvalid(SockAddr.fromString("[fe80::1%4294967296]:22"), "scope id of 33 bits")
      assert.strictEqual(assertValid(SockAddr.inet("fe80::1", 1, 2 ** 32 - 1), "max scope").scopeId, 2 ** 32 - 1)
    })

    // Both unix forms: a filesystem path and an abstract name share sun_path's rules.
    interface UnixForm {
      readonly name: string
      readonly make: (name: string) => Result.Result<SockAddr.SockAddr, InvalidInput.InvalidInput>
      readonly text: (name: string) => string
      readonly json: (name: string) => SockAddr.Json
    }
    const unixForms: ReadonlyArray<UnixForm> = [
      {
        name: "unix path",
        make: SockAddr.unixPath,
        text: (s: string) => `unix:${s}`,
        json: (s: string) => ({ _tag: "UnixPath", path: s })
      },
      {
        name: "abstract name",
        make: SockAddr.unixAbstract,
        text: (s: string) => `unix:@${s}`,
        json: (s: string) => ({ _tag: "UnixAbstract", name: s })
      }
    ]

    const validName = Arbitrary.map(SockAddr.arbitraryUnixPath, (a) => a.path)

    const refusedEverywhere = (form: UnixForm, name: string, label: string) => {
      assertInvalid(form.make(name), `${label}: constructor`)
      assertInvalid(SockAddr.fromString(form.text(name)), `${label}: fromString`)
      assertInvalid(SockAddr.fromJson(form.json(name)), `${label}: fromJson`)
      assertSchemaRefuses(SockAddr.FromString, form.text(name))
      assertSchemaRefuses(SockAddr.FromJson, form.json(name))
    }

    for (const form of unixForms) {
      it(`${form.name}: empty`, () => {
        refusedEverywhere(form, "", "empty")
      })

      it.prop(
        `${form.name}: containing NUL`,
        [validName, int(0, 200)],
        ([name, at]) => {
          count(`${form.name} nul`)
          const i = at % (name.length + 1)
          const withNul = `${name.slice(0, i)}\0${name.slice(i)}`
          refusedEverywhere(form, withNul, JSON.stringify(withNul))
        },
        options
      )

      // Names over the limit, mostly with fewer than 108 *characters*: a character count would pass them.
      const tooLong = Arbitrary.map(
        Arbitrary.all([validName, pick(["é", "中", "🙂", "ß"]), int(0, 40)]),
        ([name, wide, extra]) => {
          let long = name.startsWith("@") ? `x${name}` : name
          while (bytesOf(long) <= SockAddr.maxUnixPathBytes) long += wide
          return long + "a".repeat(extra)
        }
      )

      it.prop(
        `${form.name}: longer than 107 bytes of UTF-8`,
        [tooLong],
        ([name]) => {
          count(`${form.name} long`)
          assert.isAbove(bytesOf(name), SockAddr.maxUnixPathBytes)
          refusedEverywhere(form, name, `${bytesOf(name)} bytes`)
        },
        options
      )

      // A name of exactly `bytes` UTF-8 bytes, of random characters, padded with ASCII.
      const ofBytes = (bytes: number) =>
        Arbitrary.map(
          Arbitrary.array(pick(["a", "/", "é", "中", "🙂", "-"]), { minLength: 0, maxLength: 60 }),
          (chars) => {
            let name = "a"
            for (const c of chars) if (bytesOf(name + c) <= bytes) name += c
            return name + "a".repeat(bytes - bytesOf(name))
          }
        )

      it.prop(
        `${form.name}: 107 bytes pass and 108 bytes fail, whatever the characters`,
        [ofBytes(107), ofBytes(108)],
        ([fits, over]) => {
          count(`${form.name} boundary`)
          assert.strictEqual(bytesOf(fits), 107)
          assert.strictEqual(bytesOf(over), 108)
          const made = assertValid(form.make(fits), "107 bytes")
          assert.isTrue(Equal.equals(assertValid(SockAddr.fromString(form.text(fits)), "text"), made))
          refusedEverywhere(form, over, "108 bytes")
        },
        options
      )

      it(`${form.name}: the exact boundary in bytes, not characters`, () => {
        const e54 = "é".repeat(54) // 54 characters, 108 bytes
        const e53a = `${"é".repeat(53)}a` // 54 characters, 107 bytes
        assert.strictEqual(bytesOf(e54), 108)
        assert.strictEqual(bytesOf(e53a), 107)
        assert.strictEqual(e54.length, e53a.length)
        refusedEverywhere(form, e54, "54 × é")
        assertValid(form.make(e53a), "53 × é + a")
        assertValid(SockAddr.fromString(form.text(e53a)), "53 × é + a as text")
        // Four-byte characters: 26 × 🙂 + 3 ASCII = 107, 27 × 🙂 = 108.
        assertValid(form.make(`${"🙂".repeat(26)}abc`), "26 × 🙂 + abc")
        refusedEverywhere(form, "🙂".repeat(27), "27 × 🙂")
        // Plain ASCII: 107 passes, 108 fails.
        assertValid(form.make("a".repeat(107)), "107 × a")
        refusedEverywhere(form, "a".repeat(108), "108 × a")
        // The error says bytes.
        const refused = form.make(e54)
        assert.isTrue(Result.isFailure(refused) && refused.failure.reason.includes("108 bytes"))
      })
    }

    it("a unix path starting with @ is refused (it reads as abstract); ./@ is fine", () => {
      assertInvalid(SockAddr.unixPath("@name"), "@name")
      assert.strictEqual(assertValid(SockAddr.fromString("unix:@name"), "abstract")._tag, "UnixAbstract")
      assert.strictEqual(assertValid(SockAddr.unixPath("./@name"), "./@name").path, "./@name")
    })

    it("a lone surrogate is refused (UTF-8 cannot carry it)", () => {
      assertInvalid(SockAddr.unixPath("/tmp/\uD800"), "lone surrogate path")
      assertInvalid(SockAddr.unixAbstract("\uDC00x"), "lone surrogate name")
    })

    // Random strings, and random strings over the characters the grammar cares about.
    const grammarChars = [..."0123456789abcdefABCDEF:.[]%@/unix spec-é\0"]
    const garbage = Arbitrary.flatMap(
      int(0, 2),
      (kind): Arbitrary.Arbitrary<string> =>
        kind === 0
          ? Arbitrary.schema(Schema.String)
          : Arbitrary.map(
              Arbitrary.all([
                pick(["", "unix:", "unix:@", "[", "::", "127.0.0.1:", "[::1]:", "unspec"]),
                Arbitrary.array(pick(grammarChars), { maxLength: 40 })
              ]),
              ([prefix, chars]) => prefix + chars.join("")
            )
    )

    it.prop(
      "garbage strings parse or give InvalidInput; what parses formats back to itself",
      [garbage],
      ([input]) => {
        count("garbage")
        const parsed = SockAddr.fromString(input)
        if (Result.isSuccess(parsed)) {
          const again = assertValid(SockAddr.fromString(SockAddr.format(parsed.success)), "reparse")
          assert.isTrue(Equal.equals(again, parsed.success))
        } else {
          assert.instanceOf(parsed.failure, InvalidInput.InvalidInput)
          assert.strictEqual(parsed.failure.field, "address")
          assert.strictEqual(parsed.failure.input, input)
        }
        const decoded = Schema.decodeUnknownExit(SockAddr.FromString)(input)
        assert.strictEqual(Exit.isSuccess(decoded), Result.isSuccess(parsed))
        if (Exit.isFailure(decoded)) assert.isFalse(Exit.hasDies(decoded))
      },
      options
    )

    it.effect.prop(
      "garbage through parse fails with InvalidInput, never a defect",
      [garbage],
      ([input]) =>
        Effect.gen(function* () {
          count("garbage parse")
          const exit = yield* Effect.exit(SockAddr.parse(input))
          if (Exit.isFailure(exit)) {
            assert.isFalse(Exit.hasDies(exit), "a defect")
            const error = Exit.findErrorOption(exit)
            assert.isTrue(error._tag === "Some" && error.value._tag === "InvalidInput")
          }
        }),
      options
    )

    it.prop(
      "garbage JSON is refused by FromJson as a Schema issue, never a throw",
      [Arbitrary.schema(Schema.Unknown)],
      ([input]) => {
        count("garbage json")
        const exit = Schema.decodeUnknownExit(SockAddr.FromJson)(input)
        if (Exit.isFailure(exit)) assert.isFalse(Exit.hasDies(exit))
        else assert.isTrue(SockAddr.isSockAddr(exit.value))
      },
      options
    )

    it("values of the wrong type", () => {
      for (const input of [undefined, null, 42, {}, [], Symbol.for("x")]) {
        assertInvalid(SockAddr.fromString(input as unknown as string), `fromString(${String(input)})`)
        assertInvalid(SockAddr.fromInput(input as unknown as string), `fromInput(${String(input)})`)
        assertInvalid(SockAddr.unixPath(input as unknown as string), `unixPath(${String(input)})`)
        assertInvalid(SockAddr.unixAbstract(input as unknown as string), `unixAbstract(${String(input)})`)
      }
    })

    it("host names are not addresses, and say so", () => {
      const refused = SockAddr.fromString("db.internal:5432")
      assertInvalid(refused, "host name")
      assert.isTrue(Result.isFailure(refused) && refused.failure.reason.includes("host name"))
    })
  })

  describe("fromInput", () => {
    it("accepts SockAddr values, effect/net addresses and strings alike", () => {
      const fromText = assertValid(SockAddr.fromInput("[::1]:443"), "text")
      assert.strictEqual(assertValid(SockAddr.fromInput(fromText), "value"), fromText)
      const fromNet = assertValid(SockAddr.fromInput(NetAddress.inetAddressFromStringUnsafe("[::1]:443")), "net")
      assert.isTrue(Equal.equals(fromNet, fromText))
      const unixNet = assertValid(SockAddr.fromInput(NetAddress.unixPathAddress("/run/app.sock")), "unix net")
      assert.strictEqual(SockAddr.format(unixNet), "unix:/run/app.sock")
      const abstractNet = assertValid(SockAddr.fromInput(NetAddress.unixPathAddress("\0app")), "abstract net")
      assert.strictEqual(SockAddr.format(abstractNet), "unix:@app")
    })

    it("isLocal: loopback and unix are local, others and unspec are not", () => {
      const local = (s: string) => SockAddr.isLocal(assertValid(SockAddr.fromString(s), s))
      assert.isTrue(local("127.0.0.9:1"))
      assert.isTrue(local("[::1]:1"))
      assert.isTrue(local("unix:/run/app.sock"))
      assert.isTrue(local("unix:@app"))
      assert.isFalse(local("192.0.2.1:1"))
      assert.isFalse(local("unspec"))
    })
  })
})
