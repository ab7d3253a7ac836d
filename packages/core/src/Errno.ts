/**
 * The table of every errno the library knows: its Linux number, what connect(2) says it means,
 * and whether retrying can help.
 *
 * The retry class is the decision an application makes on every failed connect:
 *
 * - `transient`: the world can change without the program changing (a server starts, a route
 *   comes back, a port frees up). Retrying with backoff can succeed.
 * - `permanent`: configuration or programming. The same call fails again until someone edits
 *   something; retrying only delays the report.
 * - `state`: about the handle, not the network (already connecting, already connected). Fix
 *   the call order; the handle tells you its state.
 *
 * @since 0.1.0
 */

/**
 * Every errno name the library gives its own tag, in the order of the table.
 *
 * @example
 * ```ts
 * import { Errno } from "@dial/core"
 *
 * Errno.names.includes("ECONNREFUSED") // true
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const names = [
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
  "ETIMEDOUT",
  "ENOENT",
  "ECONNRESET",
  "ECONNABORTED",
  "EHOSTUNREACH",
  "ENETDOWN",
  "EINVAL",
  "ENOTCONN",
  "EPIPE"
] as const

/**
 * An errno name the library knows.
 *
 * @example
 * ```ts
 * import type { Errno } from "@dial/core"
 *
 * const name: Errno.Name = "ETIMEDOUT"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Name = (typeof names)[number]

/**
 * Whether retrying the same call can succeed: see the module documentation.
 *
 * @example
 * ```ts
 * import type { Errno } from "@dial/core"
 *
 * const decision: Errno.RetryClass = "transient"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type RetryClass = "transient" | "permanent" | "state"

/**
 * One row of the errno table.
 *
 * @example
 * ```ts
 * import { Errno } from "@dial/core"
 *
 * const row: Errno.Info = Errno.info("ECONNREFUSED")
 * row.number // 111
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Info {
  readonly name: Name
  /** The Linux errno number (x86-64 and arm64 agree on every one here). */
  readonly number: number
  /** What connect(2) (or, for domain-specific codes, the kernel) means by it. */
  readonly meaning: string
  readonly retryClass: RetryClass
  /** Why the class is what it is, in one line. */
  readonly rationale: string
  /** The usual causes, for people reading a failure. */
  readonly causes: string
  /** What usually fixes it. */
  readonly fix: string
  /** Whether connect(2)'s own ERRORS section lists it (the rest are domain-specific). */
  readonly documented: boolean
}

const row = <const N extends Name, const C extends RetryClass>(
  name: N,
  number: number,
  retryClass: C,
  documented: boolean,
  meaning: string,
  rationale: string,
  causes: string,
  fix: string
): Info & { readonly name: N; readonly retryClass: C } => ({
  name,
  number,
  meaning,
  retryClass,
  rationale,
  causes,
  fix,
  documented
})

/**
 * The table, keyed by name.
 *
 * @example
 * ```ts
 * import { Errno } from "@dial/core"
 *
 * Errno.table.EHOSTUNREACH.retryClass // "transient"
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const table = {
  EACCES: row(
    "EACCES",
    13,
    "permanent",
    true,
    "Write permission is denied on the socket file, or search permission is denied for a directory in the path prefix; or a local firewall rule refused the connection.",
    "Permissions and firewall rules change only when someone changes them.",
    "A unix socket file without write permission for this user; a directory on the path without search permission; an nft/iptables reject rule.",
    "Fix the socket file's mode or owner (or run as a user in its group); check the firewall rules."
  ),
  EPERM: row(
    "EPERM",
    1,
    "permanent",
    true,
    "The user tried to connect to a broadcast address without the socket broadcast flag, or a local firewall rule failed the request.",
    "A policy decision that holds until the policy or the program changes.",
    "A firewall rule (nftables, iptables, a seccomp or LSM policy) dropping the connect; a broadcast destination.",
    "Check local firewall and security policy; do not connect to broadcast addresses."
  ),
  EADDRINUSE: row(
    "EADDRINUSE",
    98,
    "transient",
    true,
    "Local address is already in use.",
    "The local port is held by another socket or lingers in TIME_WAIT; it is released in time.",
    "A fixed local port (`localPort`) that another socket holds, or that a recent connection left in TIME_WAIT.",
    "Let the kernel pick the local port, or wait for the holder to release it."
  ),
  EADDRNOTAVAIL: row(
    "EADDRNOTAVAIL",
    99,
    "transient",
    true,
    "The socket had not been bound and every port in the ephemeral port range is in use.",
    "Ephemeral ports are freed as connections close; a later attempt finds one.",
    "Too many outgoing connections to one destination; a small net.ipv4.ip_local_port_range; a local bind address this host does not have.",
    "Reuse connections (pooling), widen ip_local_port_range, or check the local bind address."
  ),
  EAFNOSUPPORT: row(
    "EAFNOSUPPORT",
    97,
    "permanent",
    true,
    "The passed address didn't have the correct address family in its sa_family field.",
    "The address and the socket disagree about the family: a programming error.",
    "Connecting an IPv4 socket to an IPv6 address (or the reverse); a descriptor of another family.",
    "Open the socket in the address's family, or pass an address of the socket's family."
  ),
  EAGAIN: row(
    "EAGAIN",
    11,
    "transient",
    true,
    "Insufficient entries in the routing cache; for a unix stream socket, the listener's backlog is full.",
    "The listener or the routing cache drains as the peer accepts; a later attempt gets in.",
    "A unix socket listener whose accept queue is full (the server is overloaded or stuck).",
    "Retry with backoff; make the server accept faster or raise its backlog."
  ),
  EALREADY: row(
    "EALREADY",
    114,
    "state",
    true,
    "The socket is nonblocking and a previous connection attempt has not yet been completed.",
    "About this handle's state, not the network: wait for the first connect to finish.",
    "Calling connect on a handle while an earlier connect on it is still in flight.",
    "Await the first connect; use one handle per concurrent attempt."
  ),
  EBADF: row(
    "EBADF",
    9,
    "permanent",
    true,
    "sockfd is not a valid open file descriptor.",
    "A closed or foreign descriptor stays invalid: a programming error.",
    "Using a handle after its scope closed it; a descriptor that was never a socket of this process.",
    "Use the handle only inside its scope; open a new one."
  ),
  ECONNREFUSED: row(
    "ECONNREFUSED",
    111,
    "transient",
    true,
    "A connect() on a stream socket found no one listening on the remote address.",
    "A server that is starting or restarting will listen soon.",
    "Nothing listens on that port yet (still starting, crashed, wrong port); a stale unix socket file; a reset from a firewall.",
    "Retry with backoff while the server starts; otherwise check the port and that the server runs."
  ),
  EFAULT: row(
    "EFAULT",
    14,
    "permanent",
    true,
    "The socket structure address is outside the user's address space.",
    "A bad pointer is a programming error in native code; it never heals.",
    "A native addon passing a bad sockaddr pointer (never raised by Node's own socket code).",
    "Fix the native code that builds the address."
  ),
  EINPROGRESS: row(
    "EINPROGRESS",
    115,
    "state",
    true,
    "The socket is nonblocking and the connection cannot be completed immediately.",
    "Not a failure but a state: the connect continues in the background.",
    "A non-blocking connect still in progress (libuv waits for it; JavaScript never sees it from Node).",
    "Wait for the connect to complete."
  ),
  EINTR: row(
    "EINTR",
    4,
    "transient",
    true,
    "The system call was interrupted by a signal that was caught.",
    "The interruption was about this attempt, not the destination: the next attempt can succeed.",
    "An AbortSignal aborted the connect (the library's form of a caught signal).",
    "Connect again if the abort was not meant to stop the work."
  ),
  EISCONN: row(
    "EISCONN",
    106,
    "state",
    true,
    "The socket is already connected.",
    "About this handle's state, not the network: a stream socket connects once.",
    "Calling connect on a connected stream handle.",
    "Use the existing connection, or disconnect first and connect again."
  ),
  ENETUNREACH: row(
    "ENETUNREACH",
    101,
    "transient",
    true,
    "Network is unreachable.",
    "Routes and interfaces come and go (DHCP, VPN, a link coming up).",
    "No route to the destination's network; the interface is down; an IPv6 address on an IPv4-only host.",
    "Check routes (`ip route`) and interfaces; retry once the network is up."
  ),
  ENOTSOCK: row(
    "ENOTSOCK",
    88,
    "permanent",
    true,
    "The file descriptor sockfd does not refer to a socket.",
    "A descriptor's kind never changes: a programming error.",
    "Wrapping a descriptor of a file or pipe as a socket.",
    "Pass a descriptor that refers to a socket."
  ),
  EPROTOTYPE: row(
    "EPROTOTYPE",
    91,
    "permanent",
    true,
    "The socket type does not support the requested communications protocol, e.g. a stream socket connecting to a unix datagram socket.",
    "The two sides disagree about the socket type: configuration.",
    "A stream client connecting to a unix path bound by a datagram socket (or the reverse).",
    "Use the socket type the server uses."
  ),
  ETIMEDOUT: row(
    "ETIMEDOUT",
    110,
    "transient",
    true,
    "Timeout while attempting connection. The server may be too busy to accept new connections.",
    "The kernel gave up retrying the handshake; the path or the server may recover.",
    "The SYN or its answer is dropped (firewall, dead host, lossy route); the kernel's own timeout (tcp_syn_retries), not the library's deadline.",
    "Check that the host is up and no firewall drops the traffic; set a connect deadline shorter than the kernel's."
  ),
  ENOENT: row(
    "ENOENT",
    2,
    "transient",
    false,
    "No such file or directory: the unix socket path does not exist.",
    "A server creates its socket file when it starts; the path appears in time.",
    "The server has not created its socket yet, or the path is wrong.",
    "Retry while the server starts; otherwise check the path."
  ),
  ECONNRESET: row(
    "ECONNRESET",
    104,
    "transient",
    false,
    "Connection reset by peer.",
    "The peer or a middlebox dropped this connection; a new one can succeed.",
    "The server closed the connection during the handshake (overloaded, restarting, or refusing by policy).",
    "Retry with backoff; check the server's logs."
  ),
  ECONNABORTED: row(
    "ECONNABORTED",
    103,
    "transient",
    false,
    "Software caused connection abort.",
    "The local stack aborted this connection; a new one can succeed.",
    "The connection was aborted locally (a timeout or protocol error in the stack).",
    "Retry with backoff."
  ),
  EHOSTUNREACH: row(
    "EHOSTUNREACH",
    113,
    "transient",
    false,
    "No route to host.",
    "Hosts and routes come back (a reboot, a route change).",
    "The host is down (no ARP/NDP answer), an ICMP host-unreachable, or an `unreachable` route.",
    "Check that the host is up and the route to it; retry once it is."
  ),
  ENETDOWN: row(
    "ENETDOWN",
    100,
    "transient",
    false,
    "Network is down.",
    "An interface that went down comes back up.",
    "The interface the route uses is down.",
    "Bring the interface up; retry."
  ),
  EINVAL: row(
    "EINVAL",
    22,
    "permanent",
    false,
    "Invalid argument: the address or its length is wrong for this socket.",
    "The same argument is invalid on every call: a programming error.",
    "An address the kernel rejects for this socket (length, family, or a path too long for sun_path on newer Node).",
    "Fix the address; the library rejects most of these before the kernel sees them."
  ),
  ENOTCONN: row(
    "ENOTCONN",
    107,
    "state",
    false,
    "The socket is not connected.",
    "About this handle's state: connect it first.",
    "Sending, receiving or disconnecting on a handle that has no peer.",
    "Connect the handle before using its connection."
  ),
  EPIPE: row(
    "EPIPE",
    32,
    "transient",
    false,
    "Broken pipe: the connection's write side is shut down (the peer closed or reset it, or we ended it).",
    "The connection is gone, not the server: a new connection can succeed.",
    "Writing after the peer closed or reset the connection (a server restart, an idle timeout on the server), or after our own end.",
    "Reconnect and resend (if the request is idempotent); check why the peer closed."
  )
} as const satisfies { readonly [K in Name]: Info & { readonly name: K } }

/**
 * The row of an errno.
 *
 * @example
 * ```ts
 * import { Errno } from "@dial/core"
 *
 * Errno.info("ENOENT").retryClass // "transient"
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const info = <K extends Name>(name: K): (typeof table)[K] => table[name]

/**
 * Whether a value is an errno name the library knows.
 *
 * @example
 * ```ts
 * import { Errno } from "@dial/core"
 *
 * Errno.isName("ECONNREFUSED") // true
 * Errno.isName("EWHATEVER") // false
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isName = (u: unknown): u is Name => typeof u === "string" && Object.hasOwn(table, u)

const byNumber: ReadonlyMap<number, Info> = new Map(names.map((name) => [table[name].number, table[name]]))

/**
 * The row of a Linux errno number, if the library knows it. Node reports errnos negated
 * (`-111`); both signs are accepted. Anything but a known number is `undefined`.
 *
 * @example
 * ```ts
 * import { Errno } from "@dial/core"
 *
 * Errno.fromNumber(-111)?.name // "ECONNREFUSED"
 * ```
 *
 * @category getters
 * @since 0.1.0
 */
export const fromNumber = (errno: number): Info | undefined =>
  typeof errno === "number" ? byNumber.get(Math.abs(errno)) : undefined

/**
 * Every row, in table order.
 *
 * @example
 * ```ts
 * import { Errno } from "@dial/core"
 *
 * Errno.all.filter((row) => row.retryClass === "state").map((row) => row.name)
 * ```
 *
 * @category constants
 * @since 0.1.0
 */
export const all: ReadonlyArray<Info> = names.map((name) => table[name])
