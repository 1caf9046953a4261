// Runs an agent operation: through the running agent's control socket when there is one, else
// in this process against the database (which fails clearly if another process holds it).
import { homePaths } from '../config.js'
import { callAgent } from '../control/client.js'
import { isLansyncError } from '../errors.js'
import { Agent } from '../agent.js'

export async function invoke (home: string, method: string, params: object, onProgress?: (p: any) => void): Promise<any> {
  try {
    return await callAgent(homePaths(home).socket, method, params, onProgress)
  } catch (err) {
    if (!isLansyncError(err, 'AGENT_NOT_RUNNING')) throw err
  }
  const agent = await Agent.open(home)
  try {
    return await agent.call(method, params, onProgress)
  } finally {
    await agent.close()
  }
}

/** Tells a running agent to re-read its config; a no-op when none runs. */
export async function notifyAgent (home: string): Promise<boolean> {
  try {
    await callAgent(homePaths(home).socket, 'reload', {})
    return true
  } catch (err) {
    if (isLansyncError(err, 'AGENT_NOT_RUNNING')) return false
    throw err
  }
}
