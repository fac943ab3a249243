// The daemon's numbers, as the hub and its namespaces report them (REST
// /v1/stats, /metrics). Types only: metrics.ts reads them without knowing the hub.
import type { GraphStats } from './engine/types.js';
import type { ResolverStats } from './resolver.js';

export type NamespaceResolverStats = ResolverStats & { openRounds: number };

export interface HubStats {
  clients: number;
  connectedClients: number;
  sweeps: number;
  /** deadlocks the periodic sweep found that the incremental path missed: 0 in a correct build */
  missed: number;
  namespaces: Record<string, { graph: GraphStats; resolver: NamespaceResolverStats }>;
}

/** One namespace's share of HubStats (what REST shows a caller of that namespace). */
export interface NamespaceStats {
  namespace: string;
  clients: number;
  connectedClients: number;
  /** full sweeps run so far (over every namespace) */
  sweeps: number;
  graph: GraphStats;
  resolver: NamespaceResolverStats;
}

/** Where metrics read the numbers at scrape time (the hub). */
export interface StatsSource {
  stats(): HubStats;
  namespaceStats(name: string): NamespaceStats;
}
