/**
 * Peers for the native socket types (unix datagram, SOCK_SEQPACKET): small python3 helpers,
 * since Node can make neither. Each is scoped, stopped by its pid, and binds in a temporary
 * directory (or an abstract name) the test owns.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Path from "node:path"
import { pythonHelper, tempDir } from "./kernel.ts"

/** A unix datagram server at a fresh path that answers every datagram with `echo:` + it. */
export const unixDatagramEcho = (prefix = "echo:"): Effect.Effect<string, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const path = Path.join(yield* tempDir, "dgram.sock")
    yield* pythonHelper(
      `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(262144)
    if addr:
        s.sendto(sys.argv[2].encode() + data, addr)`,
      [path, prefix]
    )
    return path
  })

/** A unix datagram socket bound at a fresh path that never reads (its queue fills). */
export const unixDatagramSink: Effect.Effect<string, Error, Scope.Scope> = Effect.gen(function* () {
  const path = Path.join(yield* tempDir, "sink.sock")
  yield* pythonHelper(
    `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
sys.stdin.read()`,
    [path]
  )
  return path
})

/**
 * A SOCK_SEQPACKET server at `address` (a path, or `@name` for an abstract name): for every connection it echoes
 * each message as one message; at the client's end (shutdown) it sends `bye` and closes.
 */
export const seqpacketEcho = (address: string): Effect.Effect<void, Error, Scope.Scope> =>
  Effect.asVoid(
    pythonHelper(
      `import socket, sys, threading
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind("\\0" + sys.argv[1][1:] if sys.argv[1].startswith("@") else sys.argv[1])
s.listen(64)
def serve(c):
    while True:
        data = c.recv(262144)
        if not data:
            c.send(b"bye")
            c.close()
            return
        c.send(data)
def accept():
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
threading.Thread(target=accept, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()`,
      [address]
    )
  )

/** A socket file of `kind` bound at a fresh path by a helper that keeps it open. */
export const boundUnix = (kind: "stream" | "datagram" | "seqpacket"): Effect.Effect<string, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const path = Path.join(yield* tempDir, `${kind}.sock`)
    const type = { stream: "SOCK_STREAM", datagram: "SOCK_DGRAM", seqpacket: "SOCK_SEQPACKET" }[kind]
    yield* pythonHelper(
      `import socket, sys
s = socket.socket(socket.AF_UNIX, socket.${type})
s.bind(sys.argv[1])
if socket.${type} != socket.SOCK_DGRAM:
    s.listen(int(sys.argv[2]))
print("ready", flush=True)
sys.stdin.read()`,
      [path, "1"]
    )
    return path
  })
