// Ambient types for the Holepunch modules we use (and sodium-universal), which ship none. Only what lansync calls
// is declared; widen these as new calls are made rather than typing the whole libraries.

declare module 'hypercore-crypto' {
  export interface KeyPair {
    /** ed25519 public key, 32 bytes. */
    publicKey: Buffer
    /** ed25519 secret key (seed + public key), 64 bytes. */
    secretKey: Buffer
  }
  export function keyPair (seed?: Uint8Array): KeyPair
  export function validateKeyPair (keyPair: { publicKey: Uint8Array, secretKey: Uint8Array }): boolean
  const crypto: {
    keyPair: typeof keyPair
    validateKeyPair: typeof validateKeyPair
  }
  export default crypto
}

declare module '@hyperswarm/secret-stream' {
  import { EventEmitter } from 'node:events'
  import type { Duplex as NodeDuplex } from 'node:stream'

  export interface SecretStreamOptions {
    /** Noise pattern; both ends must use the same one. Default 'XX'. */
    pattern?: 'XX' | 'XK' | 'IK' | 'NN'
    /** Static key the initiator expects (required by patterns with a pre-shared responder key). */
    remotePublicKey?: Uint8Array
    keyPair?: { publicKey: Uint8Array, secretKey: Uint8Array }
    autoStart?: boolean
    keepAlive?: number
  }

  /**
   * A streamx Duplex carrying encrypted messages over `rawStream`. Each 'data' chunk is one
   * decrypted message as written by the other side's `write`.
   */
  export default class NoiseSecretStream extends EventEmitter {
    constructor (isInitiator: boolean, rawStream?: NodeDuplex, options?: SecretStreamOptions)
    readonly isInitiator: boolean
    readonly rawStream: NodeDuplex | null
    /** Resolves true once the handshake is done, false if the stream was destroyed first. */
    readonly opened: Promise<boolean>
    readonly publicKey: Buffer | null
    /** The remote static key; set when 'handshake' is emitted. */
    readonly remotePublicKey: Buffer | null
    readonly handshakeHash: Buffer | null
    readonly connected: boolean
    readonly destroying: boolean
    readonly destroyed: boolean
    /** Encrypted bytes written to / read from the raw stream (after the handshake). */
    readonly rawBytesWritten: number
    readonly rawBytesRead: number
    /** Returns false when the writable buffer is over its high-water mark; wait for 'drain'. */
    write (data: Uint8Array): boolean
    end (): this
    destroy (err?: Error | null): void
    setTimeout (ms: number): void
    setKeepAlive (ms: number): void
  }
}

declare module 'hyperdht' {
  import { EventEmitter } from 'node:events'
  export interface DhtNode { host: string, port: number }
  export interface HyperDHTOptions {
    /** Bootstrap nodes; hyperdht's public ones when absent. */
    bootstrap?: Array<DhtNode | string>
    keyPair?: { publicKey: Uint8Array, secretKey: Uint8Array }
    /** UDP bind address, default 0.0.0.0. */
    host?: string
    port?: number
    ephemeral?: boolean
    firewalled?: boolean
  }
  export default class HyperDHT extends EventEmitter {
    constructor (options?: HyperDHTOptions)
    /** True once the first bootstrap query finished (even if no node answered). */
    readonly bootstrapped: boolean
    /** Whether other nodes can reach this one unsolicited (false: it can serve as a DHT node). */
    readonly firewalled: boolean
    readonly ephemeral: boolean
    readonly online: boolean
    readonly destroyed: boolean
    /** Our address as other DHT nodes see it, once learned. */
    readonly host: string | null
    readonly port: number
    ready (): Promise<void>
    fullyBootstrapped (): Promise<void>
    address (): { host: string, port: number } | null
    /** Nodes of the routing table. */
    toArray (options?: { limit?: number }): DhtNode[]
    destroy (options?: { force?: boolean }): Promise<void>
    /** Dials the server whose key is `publicKey`; the stream emits 'open', or 'error' and 'close'. */
    connect (publicKey: Uint8Array, options?: object): import('@hyperswarm/secret-stream').default
    static keyPair (seed?: Uint8Array): { publicKey: Buffer, secretKey: Buffer }
  }
}

declare module 'hyperdht/testnet' {
  import type HyperDHT from 'hyperdht'
  export interface Testnet {
    nodes: HyperDHT[]
    bootstrap: Array<{ host: string, port: number }>
    createNode (options?: object): HyperDHT
    destroy (): Promise<void>
  }
  export default function createTestnet (size?: number, options?: { host?: string, port?: number, teardown?: (fn: () => Promise<void>) => void }): Promise<Testnet>
}

declare module 'hyperswarm' {
  import { EventEmitter } from 'node:events'
  import type HyperDHT from 'hyperdht'
  import type NoiseSecretStream from '@hyperswarm/secret-stream'

  export interface PeerInfo {
    publicKey: Buffer
    /** Whether we dialed (true) or were dialed. */
    client: boolean
    banned: boolean
    topics: Buffer[]
    ban (isBanned?: boolean): void
  }
  export interface PeerDiscoverySession {
    topic: Buffer
    refresh (options?: { client?: boolean, server?: boolean }): Promise<void>
    flushed (): Promise<void>
    destroy (): Promise<void>
  }
  export interface HyperswarmOptions {
    keyPair?: { publicKey: Uint8Array, secretKey: Uint8Array }
    /** Return true to refuse the remote key (asked before dialing and while accepting). */
    firewall?: (remotePublicKey: Buffer, payload: unknown) => boolean
    dht?: HyperDHT
    bootstrap?: Array<{ host: string, port: number } | string>
    maxPeers?: number
  }
  /** A swarm connection: a NoiseSecretStream over UDX whose handshake is already done. */
  export type SwarmConnection = NoiseSecretStream & {
    rawStream: (NoiseSecretStream['rawStream'] & { remoteHost?: string | null, remotePort?: number }) | null
  }
  export default class Hyperswarm extends EventEmitter<{ connection: [SwarmConnection, PeerInfo], update: [], ban: [PeerInfo, Error] }> {
    constructor (options?: HyperswarmOptions)
    readonly keyPair: { publicKey: Buffer, secretKey: Buffer }
    readonly dht: HyperDHT
    readonly connections: Set<SwarmConnection>
    readonly peers: Map<string, PeerInfo>
    readonly destroyed: boolean
    listen (): Promise<void>
    join (topic: Uint8Array, options?: { server?: boolean, client?: boolean }): PeerDiscoverySession
    leave (topic: Uint8Array): Promise<void>
    flush (): Promise<boolean>
    destroy (options?: { force?: boolean }): Promise<void>
  }
}

declare module 'sodium-universal' {
  /** The few libsodium calls tests use to check our pure implementations against. */
  const sodium: {
    crypto_sign_ed25519_sk_to_curve25519 (out: Uint8Array, ed25519SecretKey: Uint8Array): void
    crypto_sign_ed25519_pk_to_curve25519 (out: Uint8Array, ed25519PublicKey: Uint8Array): void
    crypto_scalarmult (out: Uint8Array, scalar: Uint8Array, point: Uint8Array): void
    crypto_generichash (out: Uint8Array, input: Uint8Array, key?: Uint8Array): void
  }
  export default sodium
}
