// Ambient types for the two Holepunch modules we use, which ship none. Only what lansync calls
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
