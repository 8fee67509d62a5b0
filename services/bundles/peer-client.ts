import axios, { type AxiosResponse } from 'axios';
import type { Config, Peer } from '../../config/index.ts';
import { RdError } from '../errors.ts';
import type { PeerStatusSender } from '../helpdesk/outbox.ts';

const TIMEOUT_MS = 15_000;

/** Calls to the other desks (PEERS), each with the secret the two share; failures are coded for the outbox and the CLI. */
export class PeerClient implements PeerStatusSender {
  private readonly config: Pick<Config, 'PEERS' | 'DESK_NAME' | 'PUBLIC_URL'>;

  constructor(config: Pick<Config, 'PEERS' | 'DESK_NAME' | 'PUBLIC_URL'>) {
    this.config = config;
  }

  peer(name: string): Peer {
    const p = this.config.PEERS.find((x) => x.name === name || x.url === name.replace(/\/+$/, ''));
    if (!p) {
      const known = this.config.PEERS.map((x) => x.name).join(', ') || 'none';
      throw new RdError('RD_PEER_UNKNOWN', `${name} is not a configured peer (PEERS: ${known})`, { peer: name });
    }
    return p;
  }

  async sendStatus(peer: string, s: { sourceTicket: number; ticket: number; status: string; marker: string }): Promise<void> {
    await this.post(this.peer(peer), '/peer/status', { desk: this.config.DESK_NAME, url: this.config.PUBLIC_URL, ...s });
  }

  /** What the peer's dependency check says of these requirements in its `target` (nothing moves there). */
  async validate(peer: string, body: unknown): Promise<Record<string, unknown>> {
    return (await this.post(this.peer(peer), '/peer/validate', body)).data as Record<string, unknown>;
  }

  private async post(peer: Peer, path: string, body: unknown): Promise<AxiosResponse> {
    const url = `${peer.url}${path}`;
    const res = await axios
      .post(url, body, {
        headers: { authorization: `Bearer ${peer.secret}`, 'content-type': 'application/json' },
        timeout: TIMEOUT_MS,
        proxy: false,
        validateStatus: () => true,
      })
      .catch((e: Error) => {
        throw new RdError('RD_PEER_UNAVAILABLE', `desk ${peer.name} (${url}): ${e.message}`, { peer: peer.name });
      });
    if (res.status >= 200 && res.status < 300) return res;
    const said = res.data && typeof res.data === 'object' ? `[${res.data.error}] ${res.data.message}` : `HTTP ${res.status}`;
    if (res.status >= 500) throw new RdError('RD_PEER_UNAVAILABLE', `desk ${peer.name} (${url}) answered ${said}`, { peer: peer.name });
    throw new RdError('RD_PEER_REFUSED', `desk ${peer.name} (${url}) answered ${said}`, { peer: peer.name, status: res.status });
  }
}
