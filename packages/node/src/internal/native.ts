/**
 * The kernel's socket calls, made directly through koffi (an optional FFI dependency with
 * prebuilt binaries): what Node cannot do (unix datagram, SOCK_SEQPACKET, options before
 * connect, descriptors it did not create).
 *
 * Readiness comes from libuv itself: the node binary exports libuv's symbols, so a `uv_poll_t`
 * on the main loop (`uv_default_loop()`) watches each descriptor, with no thread per socket or
 * per operation. One koffi callback serves every poll handle; a handle is found by its
 * address. A watcher polls only while someone waits (a receive, a connect in progress), so an
 * idle socket neither costs a wakeup nor keeps the process alive: the kernel's socket buffer
 * is the queue.
 *
 * Loaded once, on first use. Where it cannot load (not Linux, koffi missing, no libuv symbols
 * in the runtime, `DIAL_NATIVE=off`), `native()` answers why, and callers fail with a typed
 * `Unsupported`.
 *
 * Every call returns the kernel's way: a value >= 0, or the negated errno.
 */
import { type ConnectError, Errno, type SockAddr, SystemError, type Transport } from "@dial/core"
import { createRequire } from "node:module"
import * as Os from "node:os"

// Linux's numbers (the same on x86-64 and arm64, the platforms koffi ships for here).
export const AF_UNSPEC = 0
export const AF_UNIX = 1
export const AF_INET = 2
export const AF_INET6 = 10
export const SOCK_STREAM = 1
export const SOCK_DGRAM = 2
export const SOCK_SEQPACKET = 5
const SOCK_NONBLOCK = 0o4000
const SOCK_CLOEXEC = 0o2000000
export const SOL_SOCKET = 1
export const SO_TYPE = 3
export const SO_ERROR = 4
export const SO_SNDBUF = 7
export const SO_RCVBUF = 8
export const SO_KEEPALIVE = 9
export const SO_LINGER = 13
export const SO_BINDTODEVICE = 25
export const SO_MARK = 36
export const SO_DOMAIN = 39
export const IPPROTO_IP = 0
export const IPPROTO_TCP = 6
export const TCP_NODELAY = 1
export const TCP_KEEPIDLE = 4
export const TCP_KEEPINTVL = 5
export const TCP_KEEPCNT = 6
export const TCP_USER_TIMEOUT = 18
export const IP_BIND_ADDRESS_NO_PORT = 24
export const SHUT_WR = 1
const MSG_DONTWAIT = 0x40
const MSG_NOSIGNAL = 0x4000
const F_GETFL = 3
const F_SETFL = 4
const O_NONBLOCK = 0o4000
const UV_POLL = 8
const UV_READABLE = 1
const UV_WRITABLE = 2
export const EAGAIN = 11

/** The calls this package makes. */
export interface Native {
  readonly socket: (domain: number, type: number) => number
  readonly connect: (fd: number, address: Uint8Array, length: number) => number
  readonly bind: (fd: number, address: Uint8Array, length: number) => number
  readonly getsockname: (fd: number) => Uint8Array | number
  readonly getpeername: (fd: number) => Uint8Array | number
  readonly setsockopt: (fd: number, level: number, name: number, value: Uint8Array) => number
  /** setsockopt of one int (or two: SO_LINGER), from a reused scratch: no allocation per call. */
  readonly setsockoptInt: (fd: number, level: number, name: number, value: number, second?: number) => number
  readonly getsockopt: (fd: number, level: number, name: number, size: number) => Uint8Array | number
  readonly getsockoptInt: (fd: number, level: number, name: number) => number
  readonly send: (fd: number, data: Uint8Array) => number
  /** One message into the shared scratch buffer; the caller copies what it keeps. */
  readonly recv: (fd: number) => Uint8Array | number
  readonly shutdown: (fd: number, how: number) => number
  readonly setNonBlocking: (fd: number) => number
  readonly close: (fd: number) => void
  readonly watch: (fd: number) => Watcher
}

/**
 * Readiness of one descriptor on the main loop. `wait` arms a one-shot interest; the callback
 * runs once, on the next readiness (or poll error, as a negated errno). `close` stops polling
 * and closes the descriptor.
 */
export interface Watcher {
  readonly fd: number
  readonly waitReadable: (callback: (status: number) => void) => void
  readonly waitWritable: (callback: (status: number) => void) => void
  /** Forgets a waiting callback (an interrupted wait). */
  readonly cancel: (which: "read" | "write") => void
  readonly close: () => void
}

/** Why the native path is not available, or the calls. */
export type Loaded =
  | { readonly _tag: "Loaded"; readonly native: Native }
  | { readonly _tag: "Missing"; readonly reason: string }

let loaded: Loaded | undefined

/** The native calls, loaded once. */
export const native = (): Loaded => (loaded ??= load())

const load = (): Loaded => {
  if (process.env.DIAL_NATIVE === "off") return { _tag: "Missing", reason: "DIAL_NATIVE=off" }
  if (process.platform !== "linux")
    return { _tag: "Missing", reason: `native sockets need Linux, not ${process.platform}` }
  let koffi: typeof import("koffi")
  try {
    koffi = createRequire(import.meta.url)("koffi")
  } catch (error) {
    return { _tag: "Missing", reason: `the optional dependency koffi cannot load (${String(error)})` }
  }
  try {
    return { _tag: "Loaded", native: bind(koffi) }
  } catch (error) {
    return { _tag: "Missing", reason: `native calls unavailable (${String(error)})` }
  }
}

const bind = (koffi: typeof import("koffi")): Native => {
  const libc = koffi.load("libc.so.6")
  // libuv's symbols are exported by the node binary itself (it loads addons against them).
  const self = koffi.load(null)
  const c_socket = libc.func("int socket(int, int, int)")
  const c_connect = libc.func("int connect(int, const uint8_t *, uint32_t)")
  const c_bind = libc.func("int bind(int, const uint8_t *, uint32_t)")
  const c_getsockname = libc.func("int getsockname(int, _Out_ uint8_t *, _Inout_ uint32_t *)")
  const c_getpeername = libc.func("int getpeername(int, _Out_ uint8_t *, _Inout_ uint32_t *)")
  const c_setsockopt = libc.func("int setsockopt(int, int, int, const uint8_t *, uint32_t)")
  const c_setsockoptInt = libc.func("setsockopt", "int", ["int", "int", "int", "int *", "uint32_t"])
  const ints = new Int32Array(2)
  const c_getsockopt = libc.func("int getsockopt(int, int, int, _Out_ uint8_t *, _Inout_ uint32_t *)")
  const c_send = libc.func("intptr_t send(int, const uint8_t *, size_t, int)")
  const c_recv = libc.func("intptr_t recv(int, _Out_ uint8_t *, size_t, int)")
  const c_shutdown = libc.func("int shutdown(int, int)")
  const c_fcntl = libc.func("int fcntl(int, int, int)")
  const c_close = libc.func("int close(int)")
  const uv_default_loop = self.func("void *uv_default_loop()")
  const uv_handle_size = self.func("size_t uv_handle_size(int)")
  const PollCallback = koffi.proto("void dial_poll_cb(void *, int, int)")
  const CloseCallback = koffi.proto("void dial_close_cb(void *)")
  const uv_poll_init = self.func("int uv_poll_init(void *, void *, int)")
  const uv_poll_start = self.func("int uv_poll_start(void *, int, dial_poll_cb *)")
  const uv_poll_stop = self.func("int uv_poll_stop(void *)")
  const uv_close = self.func("void uv_close(void *, dial_close_cb *)")

  const loop = uv_default_loop()
  const pollSize = Number(uv_handle_size(UV_POLL))
  const errno = () => -koffi.errno()
  const scratch = new Uint8Array(256 * 1024)
  const length = new Uint32Array(1)

  // Poll handles by their address; the memory of a closing one is kept until libuv lets go.
  const watchers = new Map<bigint, WatcherImpl>()
  const closing = new Map<bigint, Uint8Array>()
  const onPoll = koffi.register((handle: unknown, status: number, events: number) => {
    watchers.get(koffi.address(handle))?.ready(status, events)
  }, koffi.pointer(PollCallback))
  const onClose = koffi.register((handle: unknown) => {
    closing.delete(koffi.address(handle))
  }, koffi.pointer(CloseCallback))

  class WatcherImpl implements Watcher {
    readonly fd: number
    memory: Uint8Array | undefined = undefined
    address = 0n
    onReadable: ((status: number) => void) | undefined = undefined
    onWritable: ((status: number) => void) | undefined = undefined
    closed = false
    constructor(fd: number) {
      this.fd = fd
    }
    readonly waitReadable = (callback: (status: number) => void) => {
      this.onReadable = callback
      this.arm()
    }
    readonly waitWritable = (callback: (status: number) => void) => {
      this.onWritable = callback
      this.arm()
    }
    readonly cancel = (which: "read" | "write") => {
      if (which === "read") this.onReadable = undefined
      else this.onWritable = undefined
      this.arm()
    }
    arm() {
      if (this.closed) return
      const events = (this.onReadable ? UV_READABLE : 0) | (this.onWritable ? UV_WRITABLE : 0)
      if (this.memory === undefined) {
        if (events === 0) return
        this.memory = new Uint8Array(pollSize)
        const status = uv_poll_init(loop, this.memory, this.fd)
        if (status < 0) {
          this.memory = undefined
          return this.fire(status, UV_READABLE | UV_WRITABLE)
        }
        this.address = koffi.address(this.memory)
        watchers.set(this.address, this)
      }
      // Stopped while nobody waits: an idle socket keeps neither the loop alive nor busy.
      const status = events === 0 ? uv_poll_stop(this.memory) : uv_poll_start(this.memory, events, onPoll)
      if (status < 0) this.fire(status, events)
    }
    ready(status: number, events: number) {
      this.fire(status, status < 0 ? UV_READABLE | UV_WRITABLE : events)
      this.arm()
    }
    fire(status: number, events: number) {
      const readable = events & UV_READABLE ? this.onReadable : undefined
      const writable = events & UV_WRITABLE ? this.onWritable : undefined
      if (readable) this.onReadable = undefined
      if (writable) this.onWritable = undefined
      readable?.(status)
      writable?.(status)
    }
    readonly close = () => {
      if (this.closed) return
      this.closed = true
      // Whoever waits hears EBADF now: a closed descriptor never becomes ready.
      this.fire(-9, UV_READABLE | UV_WRITABLE)
      if (this.memory !== undefined) {
        watchers.delete(this.address)
        closing.set(this.address, this.memory)
        // uv_close takes the descriptor out of epoll at once, so it may be closed right after.
        uv_close(this.memory, onClose)
        this.memory = undefined
      }
      c_close(this.fd)
    }
  }

  const int = new Uint8Array(4)
  return {
    socket: (domain, type) => {
      const fd = c_socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)
      return fd < 0 ? errno() : fd
    },
    connect: (fd, address, size) => (c_connect(fd, address, size) < 0 ? errno() : 0),
    bind: (fd, address, size) => (c_bind(fd, address, size) < 0 ? errno() : 0),
    getsockname: (fd) => {
      length[0] = 128
      const out = new Uint8Array(128)
      if (c_getsockname(fd, out, length) < 0) return errno()
      return out.subarray(0, length[0])
    },
    getpeername: (fd) => {
      length[0] = 128
      const out = new Uint8Array(128)
      if (c_getpeername(fd, out, length) < 0) return errno()
      return out.subarray(0, length[0])
    },
    setsockopt: (fd, level, name, value) => (c_setsockopt(fd, level, name, value, value.length) < 0 ? errno() : 0),
    setsockoptInt: (fd, level, name, value, second) => {
      ints[0] = value
      if (second !== undefined) ints[1] = second
      return c_setsockoptInt(fd, level, name, ints, second === undefined ? 4 : 8) < 0 ? errno() : 0
    },
    getsockopt: (fd, level, name, size) => {
      length[0] = size
      const out = new Uint8Array(size)
      if (c_getsockopt(fd, level, name, out, length) < 0) return errno()
      return out.subarray(0, length[0])
    },
    getsockoptInt: (fd, level, name) => {
      length[0] = 4
      if (c_getsockopt(fd, level, name, int, length) < 0) return errno()
      return new DataView(int.buffer).getInt32(0, true)
    },
    send: (fd, data) => {
      const sent = Number(c_send(fd, data, data.length, MSG_DONTWAIT | MSG_NOSIGNAL))
      return sent < 0 ? errno() : sent
    },
    recv: (fd) => {
      const got = Number(c_recv(fd, scratch, scratch.length, MSG_DONTWAIT))
      return got < 0 ? errno() : scratch.subarray(0, got)
    },
    shutdown: (fd, how) => (c_shutdown(fd, how) < 0 ? errno() : 0),
    setNonBlocking: (fd) => {
      const flags = c_fcntl(fd, F_GETFL, 0)
      if (flags < 0) return errno()
      return c_fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ? errno() : 0
    },
    close: (fd) => void c_close(fd),
    watch: (fd) => new WatcherImpl(fd)
  }
}

// ---------------------------------------------------------------------------
// Addresses and errors
// ---------------------------------------------------------------------------

/** A `sockaddr_un` for a path or an abstract name, and its length. */
export const sockaddrUnix = (address: SockAddr.UnixPath | SockAddr.UnixAbstract): [Uint8Array, number] => {
  const out = new Uint8Array(110)
  out[0] = AF_UNIX
  const name = Buffer.from(address._tag === "UnixPath" ? address.path : address.name, "utf8")
  if (address._tag === "UnixPath") {
    out.set(name, 2)
    return [out, 2 + name.length + 1]
  }
  // Abstract: a leading NUL, and the length says where the name ends (no terminator).
  out.set(name, 3)
  return [out, 3 + name.length]
}

/** `sockaddr` of family AF_UNSPEC: connecting a datagram socket to it dissolves its association. */
export const sockaddrUnspec: Uint8Array = new Uint8Array(16)

/** Linux autobind: a unix socket bound with only the family gets a unique abstract name. */
export const sockaddrAutobind: Uint8Array = Uint8Array.of(AF_UNIX, 0)

/** The socket path of a `sockaddr_un` (abstract names with their leading NUL), or undefined when unnamed. */
export const unixPathOf = (raw: Uint8Array): string | undefined => {
  if (raw.length <= 2) return undefined
  const body = raw.subarray(2)
  if (body[0] === 0) return `\0${Buffer.from(body.subarray(1)).toString("utf8")}`
  const end = body.indexOf(0)
  return Buffer.from(end === -1 ? body : body.subarray(0, end)).toString("utf8")
}

const errnoNames: ReadonlyMap<number, string> = new Map(
  Object.entries(Os.constants.errno).map(([name, number]) => [number, name])
)

/** The typed error for a negated errno from one of these calls; the mapping is core's. */
export const errorOf = (status: number, context: ConnectError.Context): ConnectError.ConnectError => {
  const number = -status
  // Core's name first: the system table gives 11 as EWOULDBLOCK, core's row is EAGAIN.
  const code = Errno.fromNumber(number)?.name ?? errnoNames.get(number)
  return SystemError.toConnectError({ code, errno: status, syscall: context.syscall }, context)
}

// ---------------------------------------------------------------------------
// Stream sockets configured before connect, then handed to libuv
// ---------------------------------------------------------------------------

/**
 * Options are set where the kernel honours them equally, with the fewest calls:
 *
 * - **Before connect, on a socket made here** (`prepareStream`): only what the handshake itself
 *   uses. SO_RCVBUF/SO_SNDBUF (the window scale goes out in the SYN), SO_MARK and
 *   SO_BINDTODEVICE (the SYN's route), IP_BIND_ADDRESS_NO_PORT (the bind that precedes connect).
 * - **On Node's own socket, once connect(2) has been issued** (`configureConnecting`):
 *   TCP_USER_TIMEOUT. It bounds the handshake too (a lost SYN fails with ETIMEDOUT after the
 *   user timeout, not after the SYN retries), which the kernel checks only when a retransmit
 *   timer fires, measured from the first SYN: set microseconds after it, it is the same.
 * - **On Node's own socket, once connected** (`configureConnected`): SO_LINGER (read at close),
 *   and keepalive with an interval or count (its timer starts once established). Node's own
 *   keepalive is skipped then: it would overwrite the interval and count.
 *
 * A connect with no option of the first kind costs a plain Node connect plus one setsockopt per
 * option: no socket made here, no descriptor for Node to wrap.
 */

/**
 * Whether a stream connect needs a socket made here: `"options"` for an option that only works
 * before connect, `"noPort"` when only IP_BIND_ADDRESS_NO_PORT would be set (an improvement,
 * skipped where the native path is missing), `undefined` for neither.
 */
export const nativeStreamNeed = (
  address: SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract,
  options: Transport.SocketOptions
): "options" | "noPort" | undefined =>
  options.receiveBufferSize !== undefined ||
  options.sendBufferSize !== undefined ||
  (address._tag === "Inet" && (options.mark !== undefined || options.bindToDevice !== undefined))
    ? "options"
    : // IP_BIND_ADDRESS_NO_PORT: a local address without a port takes its port at connect, so
      // the 4-tuple, not the port alone, must be unique (no early port exhaustion).
      address._tag === "Inet" && options.local?.port === 0
      ? "noPort"
      : undefined

/** Whether a stream connect has options set on Node's socket through the native calls. */
export const hasLateOptions = (
  address: SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract,
  options: Transport.SocketOptions
): boolean =>
  options.lingerSeconds !== undefined ||
  (address._tag === "Inet" &&
    (options.userTimeoutMillis !== undefined ||
      options.keepAliveIntervalSeconds !== undefined ||
      options.keepAliveCount !== undefined))

/** Whether keepalive is ours to set in full (an interval or count), not Node's. */
export const ownsKeepAlive = (options: Transport.SocketOptions): boolean =>
  options.keepAliveIntervalSeconds !== undefined || options.keepAliveCount !== undefined

const setDevice = (native: Native, fd: number, name: string): number =>
  native.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, new TextEncoder().encode(name))

/**
 * A fresh non-blocking stream socket with the pre-connect options set, for Node to wrap and
 * connect. The others are set on it later, as on any connection.
 */
export const prepareStream = (
  native: Native,
  address: SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract,
  options: Transport.SocketOptions
): number => {
  const inet = address._tag === "Inet"
  const fd = native.socket(inet ? (address.family === "IPv4" ? AF_INET : AF_INET6) : AF_UNIX, SOCK_STREAM)
  if (fd < 0) return fd
  const o = options
  let status = 0
  if (o.receiveBufferSize !== undefined) status = native.setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, o.receiveBufferSize)
  if (status >= 0 && o.sendBufferSize !== undefined)
    status = native.setsockoptInt(fd, SOL_SOCKET, SO_SNDBUF, o.sendBufferSize)
  if (inet) {
    if (status >= 0 && o.local?.port === 0) status = native.setsockoptInt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
    if (status >= 0 && o.mark !== undefined) status = native.setsockoptInt(fd, SOL_SOCKET, SO_MARK, o.mark | 0)
    if (status >= 0 && o.bindToDevice !== undefined) status = setDevice(native, fd, o.bindToDevice)
  }
  if (status < 0) {
    native.close(fd)
    return status
  }
  return fd
}

/** TCP_USER_TIMEOUT on a socket whose connect(2) was just issued; 0 or the negated errno. */
export const configureConnecting = (native: Native, fd: number, options: Transport.SocketOptions): number =>
  options.userTimeoutMillis === undefined
    ? 0
    : native.setsockoptInt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, options.userTimeoutMillis)

/**
 * SO_LINGER and a keepalive with an interval or count, on a connected socket; 0 or the negated
 * errno. Keepalive in full (SO_KEEPALIVE, TCP_KEEPIDLE in whole seconds, at least one, as Node
 * rounds its own; TCP_KEEPINTVL; TCP_KEEPCNT), since Node's was not asked for.
 */
export const configureConnected = (
  native: Native,
  fd: number,
  address: SockAddr.Inet | SockAddr.UnixPath | SockAddr.UnixAbstract,
  options: Transport.SocketOptions
): number => {
  const o = options
  let status = 0
  if (o.lingerSeconds !== undefined) status = native.setsockoptInt(fd, SOL_SOCKET, SO_LINGER, 1, o.lingerSeconds)
  if (address._tag !== "Inet" || !ownsKeepAlive(o)) return status
  if (status >= 0 && o.keepAlive === true) {
    status = native.setsockoptInt(fd, SOL_SOCKET, SO_KEEPALIVE, 1)
    if (status >= 0 && o.keepAliveInitialDelayMillis !== undefined) {
      const idle = Math.max(1, Math.floor(o.keepAliveInitialDelayMillis / 1000))
      status = native.setsockoptInt(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle)
    }
  }
  if (status >= 0 && o.keepAliveIntervalSeconds !== undefined)
    status = native.setsockoptInt(fd, IPPROTO_TCP, TCP_KEEPINTVL, o.keepAliveIntervalSeconds)
  if (status >= 0 && o.keepAliveCount !== undefined)
    status = native.setsockoptInt(fd, IPPROTO_TCP, TCP_KEEPCNT, o.keepAliveCount)
  return status
}
