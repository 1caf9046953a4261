// The agent's side of the dashboard: starts, moves (new port) or stops the server to match the
// settings, one change at a time, and says where it is.
import type { Config, DashboardConfig } from '../config.js'
import { DashboardServer, dashboardUrl } from './server.js'
import { loadOrCreateToken } from './token.js'

export interface DashboardStatus {
  isEnabled: boolean
  isRunning: boolean
  /** The port it listens on, or the configured one when it does not run. */
  port: number
  /** The address with the token; the configured one (port 0: none) when it does not run. */
  url: string | undefined
}

export interface DashboardHostOptions {
  home: () => string
  call: (method: string, params: object) => Promise<unknown>
  config: () => Config
  log: (line: string) => void
}

export class DashboardHost {
  private readonly options: DashboardHostOptions
  private server: DashboardServer | undefined
  private settings: DashboardConfig | undefined
  private change: Promise<void> = Promise.resolve()
  private isClosed = false

  constructor (options: DashboardHostOptions) {
    this.options = options
  }

  /** Serves (or stops serving) as `settings` say. Throws DASHBOARD_LISTEN when the port cannot be had. */
  async apply (settings: DashboardConfig): Promise<void> {
    const run = this.change.then(async () => {
      if (this.isClosed) return
      const isSame = this.server !== undefined && settings.isEnabled && (settings.port === 0 || settings.port === this.server.port)
      if (isSame) return
      this.settings = settings
      if (this.server !== undefined) {
        const old = this.server
        this.server = undefined
        await old.close()
        if (!settings.isEnabled) this.options.log('dashboard: off')
      }
      if (!settings.isEnabled) return
      const token = loadOrCreateToken(this.options.home())
      const server = new DashboardServer({ port: settings.port, token, call: this.options.call, config: this.options.config, log: this.options.log })
      await server.listen()
      this.server = server
      this.options.log(`dashboard: serving on http://127.0.0.1:${server.port}/ (\`lansync dashboard url\` prints the address with its token)`)
    })
    this.change = run.catch(() => {})
    await run
  }

  status (configured: DashboardConfig): DashboardStatus {
    const server = this.server
    if (server !== undefined) return { isEnabled: true, isRunning: true, port: server.port, url: server.url }
    const wanted = this.settings ?? configured
    return offlineStatus(this.options.home(), wanted, false)
  }

  async close (): Promise<void> {
    this.isClosed = true
    await this.change
    const server = this.server
    this.server = undefined
    await server?.close()
  }
}

/** Where the dashboard will be when the agent serves it (creating the token if there is none). */
export function offlineStatus (home: string, settings: DashboardConfig, isRunning: boolean): DashboardStatus {
  const url = settings.isEnabled && settings.port !== 0 ? dashboardUrl(settings.port, loadOrCreateToken(home)) : undefined
  return { isEnabled: settings.isEnabled, isRunning, port: settings.port, url }
}
